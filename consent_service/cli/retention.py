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
from consent_service.services import retention


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser("retention", help="apply the retention rule")
    retention_run = parser.add_subparsers(dest="retention_command", required=True).add_parser(
        "run", help="erase people inactive for the configured years (tombstones kept)"
    )
    retention_run.add_argument("--dry-run", action="store_true", help="report, change nothing")
    retention_run.add_argument("--years", type=int, help="overrides CONSENT_RETENTION_INACTIVE_YEARS")
    retention_run.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_retention(settings, args.years or settings.retention.inactive_years, args.dry_run))


async def _retention(settings: Settings, years: int | None, dry_run: bool) -> int:
    if not years:
        print("no retention rule: set CONSENT_RETENTION_INACTIVE_YEARS or pass --years", file=sys.stderr)
        return 2
    async with opened(settings) as ctx:
        with bars(reporting=True) as progress:
            done = await retention.run(ctx, years, dry_run, Bars(progress))
    verb = "would erase" if dry_run else "erased"
    print(f"{verb} {len(done.selected)} people with no activity for {years} years")
    for person_id in done.selected:
        print(f"  {person_id}")
    if done.held:
        print(f"kept {len(done.held)} inactive people under a legal hold")
        for person_id in done.held:
            print(f"  {person_id} (legal hold)")
    return 0
