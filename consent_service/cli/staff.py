"""``consent-service staff create|disable|role``: the accounts that sign in to the phone-call page.

An account made here is a ``lead`` unless ``--role staff`` is given: whoever runs this command holds the
database already, and the first account must be able to make the others from the pages.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from consent_service.bootstrap import opened
from consent_service.cli.database import migrate
from consent_service.config import STAFF_PASSWORD, Settings, staff_password
from consent_service.domain.errors import Conflict, InvalidInput, NotFound
from consent_service.domain.staff import Role
from consent_service.services import staff


def add_commands(subparsers: Any) -> None:
    staff_parser = subparsers.add_parser("staff", help="staff accounts for the phone-call page")
    staff_sub = staff_parser.add_subparsers(dest="staff_command", required=True)
    staff_create = staff_sub.add_parser(
        "create", help=f"make an account; the password from {STAFF_PASSWORD}, else asked for twice"
    )
    staff_create.add_argument("--username", required=True)
    staff_create.add_argument("--name", required=True, help="the name shown on records they make")
    staff_create.add_argument(
        "--role", choices=[r.value for r in Role], default=Role.LEAD.value, help="default: lead"
    )
    staff_create.set_defaults(run=create)
    staff_disable = staff_sub.add_parser(
        "disable", help="someone has left: no more sign-ins, and their open sessions stop working"
    )
    staff_disable.add_argument("--username", required=True)
    staff_disable.set_defaults(run=disable)
    staff_role = staff_sub.add_parser("role", help="make an account a lead, or a plain staff member")
    staff_role.add_argument("--username", required=True)
    staff_role.add_argument("--role", choices=[r.value for r in Role], required=True)
    staff_role.set_defaults(run=set_role)


def _staff_password() -> str | None:
    """From the environment if set there, else typed twice without echo; None when the two differ."""
    given = staff_password()
    if given:
        return given
    first = getpass.getpass("Password for the new staff account: ")
    if getpass.getpass("The same password again: ") != first:
        return None
    return first


def create(settings: Settings, args: argparse.Namespace) -> int:
    # Asked before the database is touched: a mistyped password leaves nothing behind.
    password = _staff_password()
    if password is None:
        print("consent-service: the two passwords differ; nothing was made", file=sys.stderr)
        return 1
    migrate(settings)
    return asyncio.run(_create_staff(settings, args.username, args.name, password, Role(args.role)))


async def _create_staff(
    settings: Settings, username: str, display_name: str, password: str, role: Role
) -> int:
    async with opened(settings) as ctx:
        try:
            account = await staff.create_account(ctx, username, display_name, password, role)
        except (InvalidInput, Conflict) as exc:
            print(f"consent-service: {exc.detail}", file=sys.stderr)
            return 1
    print(f"staff account {account.username!r} ({account.display_name}, {account.role.value}) created")
    return 0


def disable(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    return asyncio.run(_disable_staff(settings, args.username))


async def _disable_staff(settings: Settings, username: str) -> int:
    async with opened(settings) as ctx:
        disabled = await staff.disable_account(ctx, username)
    if not disabled:
        print(f"consent-service: no enabled staff account {username!r}", file=sys.stderr)
        return 1
    print(f"staff account {username!r} disabled")
    return 0


def set_role(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    return asyncio.run(_set_role(settings, args.username, Role(args.role)))


async def _set_role(settings: Settings, username: str, role: Role) -> int:
    async with opened(settings) as ctx:
        try:
            changed = await staff.change_role(ctx, username, role, staff.COMMAND_LINE)
        except (NotFound, Conflict) as exc:
            print(f"consent-service: {exc.detail}", file=sys.stderr)
            return 1
    print(f"staff account {username!r} is {'now' if changed else 'already'} a {role.value}")
    return 0
