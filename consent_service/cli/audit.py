"""``consent-service audit verify``: walk the ledger's hash chains and checkpoints; exit 1 naming the
first break. ``audit checkpoint``: checkpoint the heads that moved now.

A progress bar on stderr while it reads, at a terminal (``progress.py``).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from consent_service.bootstrap import opened
from consent_service.cli.progress import Bars, bars
from consent_service.config import Settings
from consent_service.services import audit


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="check the ledger")
    commands = parser.add_subparsers(dest="audit_command", required=True)
    commands.add_parser(
        "verify", help="walk the hash chains and their checkpoints; name the first thing that does not verify"
    ).set_defaults(run=run)
    commands.add_parser(
        "checkpoint",
        help="checkpoint the person chains' heads that moved now (the server does it every minute)",
    ).set_defaults(run=run_checkpoint)


def run(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_audit(settings))


def run_checkpoint(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_checkpoint(settings))


async def _checkpoint(settings: Settings) -> int:
    async with opened(settings) as ctx:
        made = await audit.checkpoint(ctx)
    if made is None:
        print("ok: no chain moved since the last checkpoint")
    else:
        print(f"ok: checkpoint {made.id} records {len(made.heads)} heads, hash {made.hash}")
    return 0


async def _audit(settings: Settings) -> int:
    async with opened(settings) as ctx:
        with bars(reporting=True) as progress:
            report = await audit.verify(ctx, Bars(progress))
    if report.broken is not None:
        print(f"BROKEN at event {report.broken.id} (seq {report.broken.seq}), {report.events} events read")
        return 1
    if report.truncated:
        whose = f"person {report.truncated_person}'s chain" if report.truncated_person else "the single chain"
        print(f"BROKEN: {whose} ends before the head on record for it: events were removed from its end")
        return 1
    if report.broken_checkpoint is not None:
        print(
            f"BROKEN at checkpoint {report.broken_checkpoint}: it does not verify, or names an event"
            " that is not there"
        )
        return 1
    print(f"ok: {report.events} events, {report.checkpoints} checkpoints, the hash chains verify")
    return 0
