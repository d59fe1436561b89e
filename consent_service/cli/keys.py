"""``consent-service keys create|list|revoke``: API keys. A new key's secret is printed alone on the
last line, once; ``list`` never shows a secret; a revoked key is refused on every worker within 1 s."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from consent_service.bootstrap import opened
from consent_service.cli.database import migrate
from consent_service.config import Settings
from consent_service.domain.errors import InvalidInput, NotFound
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.services import keys

_IN = re.compile(r"^(\d+)([dh])$")


def expiry(text: str) -> datetime:
    """``--expires``: a date (the key stops at its start, UTC), a date-time (UTC if no zone is given),
    or a span from now: ``90d``, ``12h``."""
    spelled = text.strip()
    span = _IN.match(spelled)
    if span:
        amount, unit = int(span.group(1)), span.group(2)
        return datetime.now(UTC) + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        if len(spelled) == 10:
            day = date.fromisoformat(spelled)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(spelled)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2027-03-31), a date-time (2027-03-31T17:00+00:00) or a span (90d, 12h)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_commands(subparsers: Any) -> None:
    keys_parser = subparsers.add_parser("keys", help="API keys")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key; it is printed alone on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in KeyScope])
    create.add_argument(
        "--expires", type=expiry, help="when the key stops working: 2027-03-31, a date-time, or 90d / 12h"
    )
    create.set_defaults(run=run)
    listing = keys_sub.add_parser("list", help="every key: scopes, made, last used, expiry, revoked")
    listing.set_defaults(run=list_all)
    revoke = keys_sub.add_parser("revoke", help="stop a key; every worker refuses it within 1 s")
    revoke.add_argument("key_id", help="the key's id, as `keys list` shows it")
    revoke.set_defaults(run=revoke_one)


async def _create_key(
    settings: Settings, name: str, scopes: frozenset[KeyScope], expires_at: datetime | None
) -> str:
    async with opened(settings) as ctx:
        _, secret = await keys.create_key(ctx.store, ctx.clock, name, scopes, None, expires_at)
        return secret


def run(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    scopes = frozenset(KeyScope(s) for s in args.scope)
    try:
        secret = asyncio.run(_create_key(settings, args.name, scopes, args.expires))
    except InvalidInput as exc:
        print(f"consent-service: {exc.detail}", file=sys.stderr)
        return 1
    until = f", expiring {args.expires:%Y-%m-%d %H:%M} UTC" if args.expires else ""
    print(f"key {args.name!r} with scopes {', '.join(sorted(scopes))}{until}; shown once:")
    print(secret)
    return 0


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "-"


def _state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return f"revoked {_when(key.revoked_at)}"
    if not key.usable(now):
        return "expired"
    return "active"


async def _listed(settings: Settings) -> list[ApiKey]:
    async with opened(settings) as ctx:
        return await keys.list_keys(ctx.store)


def list_all(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    found = asyncio.run(_listed(settings))
    now = datetime.now(UTC)
    rows = [("id", "name", "scopes", "created", "last used", "expires", "state")]
    rows += [
        (
            k.id,
            k.name,
            ",".join(sorted(k.scopes)),
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.expires_at),
            _state(k, now),
        )
        for k in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print("times in UTC; 'last used' is written at most once a minute, so may be a minute behind")
    return 0


async def _revoke(settings: Settings, key_id: str) -> ApiKey:
    async with opened(settings) as ctx:
        return await keys.revoke_key(ctx.key_ring, key_id)


def revoke_one(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    try:
        key = asyncio.run(_revoke(settings, args.key_id))
    except NotFound as exc:
        print(f"consent-service: {exc.detail}", file=sys.stderr)
        return 1
    print(f"key {key.name!r} ({key.id}) revoked {_when(key.revoked_at)} UTC; refused everywhere now")
    return 0
