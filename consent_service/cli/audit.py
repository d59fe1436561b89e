"""``consent-service audit verify``: walk the ledger's hash chain; exit 1 naming the first break.

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
    parser.add_subparsers(dest="audit_command", required=True).add_parser(
        "verify", help="walk the hash chain; name the first event that does not verify"
    ).set_defaults(run=run)


def run(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_audit(settings))


async def _audit(settings: Settings) -> int:
    async with opened(settings) as ctx:
        with bars(reporting=True) as progress:
            report = await audit.verify(ctx, Bars(progress))
    if report.broken is not None:
        print(f"BROKEN at event {report.broken.id} (seq {report.broken.seq}), {report.events} events read")
        return 1
    if report.truncated:
        print(f"BROKEN: the chain ends at {report.events} events but the head names a later one")
        return 1
    print(f"ok: {report.events} events, the hash chain verifies")
    return 0
