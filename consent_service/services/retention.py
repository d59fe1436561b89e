"""Retention: people with no recorded activity for the configured years are erased, keeping their
suppression tombstones so they are never marketed to again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from consent_service.services.bulk import QUIET, Progress
from consent_service.services.context import Context
from consent_service.services.rights import Erase, erase

ACTOR = "retention rule"


@dataclass(frozen=True, slots=True)
class RetentionRun:
    inactive_years: int
    selected: tuple[str, ...]
    erased: bool
    #: Inactive people kept because a legal hold stands on them.
    held: tuple[str, ...] = ()
    #: Idempotency keys forgotten (none on a dry run).
    keys_forgotten: int = 0


async def run(
    ctx: Context,
    inactive_years: int,
    dry_run: bool,
    progress: Progress = QUIET,
    idempotency_days: int | None = None,
) -> RetentionRun:
    """Erase the inactive (not those under a legal hold) and forget old idempotency keys; the other
    record types' rules are kept elsewhere (``domain/retention.py: rules``)."""
    now = ctx.clock.now()
    cutoff = now - timedelta(days=365 * inactive_years)
    forgotten = 0
    async with ctx.store.writing() as uow:
        progress.start("finding inactive people", None)
        inactive = await uow.people.inactive_since(cutoff)
        held = tuple(dict.fromkeys(h.person_id for h in await uow.legal_holds.standing(inactive)))
        selected = tuple(p for p in inactive if p not in held)
        if not dry_run:
            progress.start("erasing", len(selected))
            for person_id in selected:
                await erase.within(uow, ctx, Erase(person_id, ACTOR))
                progress.advance()
            if idempotency_days:
                forgotten = await uow.idempotency.purge(now - timedelta(days=idempotency_days))
    return RetentionRun(inactive_years, selected, not dry_run, held, forgotten)
