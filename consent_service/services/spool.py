"""Opt-outs spooled while the database was away, applied once it answers again (DESIGN §4.1)."""

from __future__ import annotations

import asyncio
import logging

from consent_service.services import unsubscribes
from consent_service.services.context import Context

log = logging.getLogger("consent_service.spool")


async def apply(ctx: Context) -> int:
    """Apply every spooled opt-out, oldest first, and drop each from the spool once committed.

    Stops at the first the database cannot take (it is tried again on the next round); entries
    applied before that are dropped all the same. How many were applied.
    """
    pending = ctx.spool.pending()
    ctx.metrics.spooled(len(pending))
    if not pending:
        return 0
    applied: list[str] = []
    try:
        for entry in sorted(pending, key=lambda e: (e.at, e.id)):
            if await unsubscribes.apply_spooled(ctx, entry):
                log.info("applied an opt-out spooled at %s", entry.at.isoformat())
            applied.append(entry.id)
    finally:
        if applied:
            await asyncio.to_thread(ctx.spool.remove, applied)
        ctx.metrics.spooled(len(pending) - len(applied))
    return len(applied)
