"""Exports of the suppression list and of everyone's current choices, as CSV files.

No contact detail leaves the service this way: suppressions go out by fingerprint and choices by
person id and reference. Entries are read a page at a time, each page in its own short read, so a
long export never holds a transaction open while the file is written.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import TextIO

from consent_service.services.bulk import QUIET, Progress
from consent_service.services.context import Context

__all__ = ["CONSENT_COLUMNS", "SUPPRESSION_COLUMNS", "export_consents", "export_suppressions"]

#: Entries read per query when exporting.
EXPORT_PAGE = 1000

SUPPRESSION_COLUMNS = ("fingerprint", "channel", "scope", "reason", "purpose", "effective_at", "lifted_at")
CONSENT_COLUMNS = (
    "person_id",
    "reference",
    "purpose",
    "channel",
    "status",
    "effective_at",
    "notice_version",
    "source",
)


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at else ""


async def export_suppressions(ctx: Context, out: TextIO, progress: Progress = QUIET) -> int:
    """Every entry, lifted ones too, by fingerprint: no contact detail leaves the service this way."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUPPRESSION_COLUMNS)
    progress.start("exporting suppressions", None)
    after: tuple[datetime, str] | None = None
    count = 0
    while True:
        async with ctx.store.reading() as uow:
            page = await uow.suppressions.page(None, None, after, EXPORT_PAGE)
        for entry in page:
            writer.writerow(
                (
                    entry.fingerprint,
                    entry.channel.value if entry.channel else "all",
                    entry.scope.value,
                    entry.reason.value,
                    entry.purpose or "",
                    _iso(entry.effective_at),
                    _iso(entry.lifted_at),
                )
            )
        count += len(page)
        progress.advance(len(page))
        if len(page) < EXPORT_PAGE:
            return count
        after = (page[-1].recorded_at, page[-1].id)


async def export_consents(ctx: Context, out: TextIO, progress: Progress = QUIET) -> int:
    """The current choice of every person not erased, per purpose and channel; no contact details."""
    await ctx.catalogue.reload()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CONSENT_COLUMNS)
    progress.start("exporting consents", None)
    after: tuple[str, str, str] | None = None
    count = 0
    while True:
        async with ctx.store.reading() as uow:
            page = await uow.ledger.current_page(after, EXPORT_PAGE)
        for person_id, reference, consent in page:
            notice = ctx.catalogue.notice_by_id(consent.notice_id)
            writer.writerow(
                (
                    person_id,
                    reference or "",
                    consent.purpose,
                    consent.channel.value if consent.channel else "",
                    consent.decision.value,
                    _iso(consent.effective_at),
                    notice.version if notice else "",
                    consent.source.value,
                )
            )
        count += len(page)
        progress.advance(len(page))
        if len(page) < EXPORT_PAGE:
            return count
        person_id, _, last = page[-1]
        after = (person_id, last.purpose, last.channel.value if last.channel else "")
