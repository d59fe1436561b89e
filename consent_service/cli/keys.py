"""``consent-service keys create``: an API key, its secret printed alone on the last line, once."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from consent_service.bootstrap import opened
from consent_service.cli.database import migrate
from consent_service.config import Settings
from consent_service.domain.keys import KeyScope
from consent_service.services import keys


def add_commands(subparsers: Any) -> None:
    keys_parser = subparsers.add_parser("keys", help="API keys")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key; it is printed alone on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in KeyScope])
    create.set_defaults(run=run)


async def _create_key(settings: Settings, name: str, scopes: frozenset[KeyScope]) -> str:
    async with opened(settings) as ctx:
        _, secret = await keys.create_key(ctx.store, ctx.clock, name, scopes, None)
        return secret


def run(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    scopes = frozenset(KeyScope(s) for s in args.scope)
    secret = asyncio.run(_create_key(settings, args.name, scopes))
    print(f"key {args.name!r} with scopes {', '.join(sorted(scopes))}; shown once:")
    print(secret)
    return 0
