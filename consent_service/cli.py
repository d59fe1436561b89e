"""The ``consent-service`` command: serve, migrate, make API keys, export the OpenAPI schema."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig

from alembic import command
from consent_service import cli_transfer
from consent_service.api.app import create_app
from consent_service.bootstrap import build_context
from consent_service.config import (
    STAFF_PASSWORD,
    Settings,
    SettingsError,
    share_metrics_between_workers,
    staff_password,
)
from consent_service.domain.errors import Conflict, InvalidInput
from consent_service.domain.keys import Scope
from consent_service.logs import log_config
from consent_service.services import audit, keys, retention, staff

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"
APP_FACTORY = "consent_service.api.app:app_from_env"


def migrate(settings: Settings) -> None:
    config = AlembicConfig(str(ALEMBIC_INI))
    config.attributes["database_url"] = settings.database.url
    command.upgrade(config, "head")


async def _first_key(settings: Settings) -> str | None:
    ctx = build_context(settings)
    try:
        return await keys.ensure_first_key(ctx.store, ctx.clock)
    finally:
        await ctx.store.dispose()


async def _create_key(settings: Settings, name: str, scopes: frozenset[Scope]) -> str:
    ctx = build_context(settings)
    try:
        _, secret = await keys.create_key(ctx.store, ctx.clock, name, scopes, None)
        return secret
    finally:
        await ctx.store.dispose()


def _staff_password() -> str | None:
    """From the environment if set there, else typed twice without echo; None when the two differ."""
    given = staff_password()
    if given:
        return given
    first = getpass.getpass("Password for the new staff account: ")
    if getpass.getpass("The same password again: ") != first:
        return None
    return first


async def _create_staff(settings: Settings, username: str, display_name: str, password: str) -> int:
    ctx = build_context(settings)
    try:
        account = await staff.create_account(ctx, username, display_name, password)
    except (InvalidInput, Conflict) as exc:
        print(f"consent-service: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await ctx.store.dispose()
    print(f"staff account {account.username!r} ({account.display_name}) created")
    return 0


async def _disable_staff(settings: Settings, username: str) -> int:
    ctx = build_context(settings)
    try:
        disabled = await staff.disable_account(ctx, username)
    finally:
        await ctx.store.dispose()
    if not disabled:
        print(f"consent-service: no enabled staff account {username!r}", file=sys.stderr)
        return 1
    print(f"staff account {username!r} disabled")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    migrate(settings)
    secret = asyncio.run(_first_key(settings))
    if secret:
        print("First start: an API key with every scope was made. It is shown once; keep it safe:")
        print(secret, flush=True)
    logging_config = log_config(settings.logs.format, settings.logs.level)
    if args.workers > 1:
        share_metrics_between_workers(settings)
    if args.server == "granian":
        _serve_granian(args, logging_config)
    else:
        _serve_uvicorn(args, logging_config)


def _serve_granian(args: argparse.Namespace, logging_config: dict[str, Any]) -> None:
    """The default: about twice uvicorn's requests per second on this service (bench/README.md).

    A worker that dies is started again, so one crash does not halve the capacity until a restart.

    Workers are started fresh (``spawn``), not forked from this process: a forked worker inherits the
    Prometheus client as this process imported it, before ``PROMETHEUS_MULTIPROC_DIR`` was set, so it
    counted in its own memory and ``/metrics`` answered empty with two workers or more. A fresh worker
    also carries none of this process's start-up work (migrations, the first key) in its memory.
    """
    import multiprocessing

    from granian import Granian
    from granian.constants import Interfaces, Loops

    multiprocessing.set_start_method("spawn", force=True)

    Granian(
        APP_FACTORY,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=args.workers,
        factory=True,
        respawn_failed_workers=True,
        log_access=False,
        log_dictconfig=logging_config,
    ).serve()


def _serve_uvicorn(args: argparse.Namespace, logging_config: dict[str, Any]) -> None:
    import uvicorn

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config,
        access_log=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consent-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes; one per core is a good start")
    serve.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        default="granian",
        help="the ASGI server (default granian)",
    )
    sub.add_parser("migrate", help="bring the database schema up to date")
    keys_parser = sub.add_parser("keys", help="API keys")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key; it is printed alone on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    staff_parser = sub.add_parser("staff", help="staff accounts for the phone-call page")
    staff_sub = staff_parser.add_subparsers(dest="staff_command", required=True)
    staff_create = staff_sub.add_parser(
        "create", help=f"make an account; the password from {STAFF_PASSWORD}, else asked for twice"
    )
    staff_create.add_argument("--username", required=True)
    staff_create.add_argument("--name", required=True, help="the name shown on records they make")
    staff_disable = staff_sub.add_parser(
        "disable", help="someone has left: no more sign-ins, and their open sessions stop working"
    )
    staff_disable.add_argument("--username", required=True)
    sub.add_parser("openapi", help="print the OpenAPI schema as JSON")
    audit = sub.add_parser("audit", help="check the ledger")
    audit.add_subparsers(dest="audit_command", required=True).add_parser(
        "verify", help="walk the hash chain; name the first event that does not verify"
    )
    retention = sub.add_parser("retention", help="apply the retention rule")
    retention_run = retention.add_subparsers(dest="retention_command", required=True).add_parser(
        "run", help="erase people inactive for the configured years (tombstones kept)"
    )
    retention_run.add_argument("--dry-run", action="store_true", help="report, change nothing")
    retention_run.add_argument("--years", type=int, help="overrides CONSENT_RETENTION_INACTIVE_YEARS")
    cli_transfer.add_commands(sub)
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    if args.command == "serve":
        _serve(settings, args)
    elif args.command == "migrate":
        migrate(settings)
        print("database is up to date")
    elif args.command == "keys":
        migrate(settings)
        scopes = frozenset(Scope(s) for s in args.scope)
        secret = asyncio.run(_create_key(settings, args.name, scopes))
        print(f"key {args.name!r} with scopes {', '.join(sorted(scopes))}; shown once:")
        print(secret)
    elif args.command == "staff" and args.staff_command == "disable":
        migrate(settings)
        return asyncio.run(_disable_staff(settings, args.username))
    elif args.command == "staff":
        password = _staff_password()
        if password is None:
            print("consent-service: the two passwords differ; nothing was made", file=sys.stderr)
            return 1
        migrate(settings)
        return asyncio.run(_create_staff(settings, args.username, args.name, password))
    elif args.command == "openapi":
        print(json.dumps(create_app(settings).openapi_schema.to_schema(), indent=2, sort_keys=True))
    elif args.command == "audit":
        return asyncio.run(_audit(settings))
    elif args.command == "retention":
        return asyncio.run(
            _retention(settings, args.years or settings.retention.inactive_years, args.dry_run)
        )
    elif args.command in cli_transfer.COMMANDS:
        return asyncio.run(cli_transfer.run(args, settings))
    return 0


async def _audit(settings: Settings) -> int:
    ctx = build_context(settings)
    try:
        report = await audit.verify(ctx)
    finally:
        await ctx.store.dispose()
    if report.broken is not None:
        print(f"BROKEN at event {report.broken.id} (seq {report.broken.seq}), {report.events} events read")
        return 1
    if report.truncated:
        print(f"BROKEN: the chain ends at {report.events} events but the head names a later one")
        return 1
    print(f"ok: {report.events} events, the hash chain verifies")
    return 0


async def _retention(settings: Settings, years: int | None, dry_run: bool) -> int:
    if not years:
        print("no retention rule: set CONSENT_RETENTION_INACTIVE_YEARS or pass --years", file=sys.stderr)
        return 2
    ctx = build_context(settings)
    try:
        done = await retention.run(ctx, years, dry_run)
    finally:
        await ctx.store.dispose()
    verb = "would erase" if dry_run else "erased"
    print(f"{verb} {len(done.selected)} people with no activity for {years} years")
    for person_id in done.selected:
        print(f"  {person_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
