"""The ``consent-service`` command: serve, migrate, make API keys, export the OpenAPI schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from alembic.config import Config as AlembicConfig

from alembic import command
from consent_service.api.app import build_context, create_app
from consent_service.config import Settings, SettingsError
from consent_service.domain.keys import Scope
from consent_service.services import keys

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def migrate(settings: Settings) -> None:
    config = AlembicConfig(str(ALEMBIC_INI))
    config.attributes["database_url"] = settings.database_url
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


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    migrate(settings)
    secret = asyncio.run(_first_key(settings))
    if secret:
        print("First start: an API key with every scope was made. It is shown once; keep it safe:")
        print(secret, flush=True)
    uvicorn.run(
        "consent_service.api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consent-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    sub.add_parser("migrate", help="bring the database schema up to date")
    keys_parser = sub.add_parser("keys", help="API keys")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key; it is printed alone on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    sub.add_parser("openapi", help="print the OpenAPI schema as JSON")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"consent-service: {exc}", file=sys.stderr)
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
    elif args.command == "openapi":
        print(json.dumps(create_app(settings).openapi_schema.to_schema(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
