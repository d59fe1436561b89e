"""``consent-service retention run``: erase people inactive for the configured years, tombstones kept.

A progress bar on stderr while it erases, at a terminal (``progress.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from consent_service.bootstrap import opened
from consent_service.cli.progress import Bars, bars
from consent_service.config import Settings
from consent_service.domain.retention import rules
from consent_service.services import retention


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser("retention", help="apply the retention rules")
    commands = parser.add_subparsers(dest="retention_command", required=True)
    retention_run = commands.add_parser(
        "run",
        help="erase people inactive for the configured years (tombstones kept, legal holds respected) "
        "and forget old idempotency keys",
    )
    retention_run.add_argument("--dry-run", action="store_true", help="report, change nothing")
    retention_run.add_argument("--years", type=int, help="overrides CONSENT_RETENTION_INACTIVE_YEARS")
    retention_run.set_defaults(run=run)
    commands.add_parser("rules", help="how long each kind of record is kept, and why").set_defaults(
        run=show_rules
    )


def show_rules(settings: Settings, args: argparse.Namespace) -> int:
    kept = rules(
        settings.retention.inactive_years,
        settings.retention.idempotency_days,
        settings.changes.outbox_retention_days,
    )
    for rule in kept:
        print(f"{rule.record}: {rule.kept}\n  why: {rule.why}")
    print("a legal hold on a person keeps their record from every rule that would erase it")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_retention(settings, args.years or settings.retention.inactive_years, args.dry_run))


async def _retention(settings: Settings, years: int | None, dry_run: bool) -> int:
    if not years:
        print("no retention rule: set CONSENT_RETENTION_INACTIVE_YEARS or pass --years", file=sys.stderr)
        return 2
    async with opened(settings) as ctx:
        with bars(reporting=True) as progress:
            done = await retention.run(
                ctx, years, dry_run, Bars(progress), settings.retention.idempotency_days
            )
    verb = "would erase" if dry_run else "erased"
    print(f"{verb} {len(done.selected)} people with no activity for {years} years")
    for person_id in done.selected:
        print(f"  {person_id}")
    if not dry_run:
        print(
            f"forgot {done.keys_forgotten} idempotency keys older than "
            f"{settings.retention.idempotency_days} days"
        )
    if done.held:
        print(f"kept {len(done.held)} inactive people under a legal hold")
        for person_id in done.held:
            print(f"  {person_id} (legal hold)")
    return 0
