"""Imports of suppression lists and consents from CSV files: every row checked before any is written.

A file with a bad row changes nothing unless the caller asks to skip bad rows; then the good rows are
written, in batches, each batch in one transaction (so the write lock is held briefly and opt-outs are
never kept waiting).

Running the same file twice changes nothing the second time:

- a suppression row is skipped when an entry in force has the same fingerprint, channel, scope and
  reason (and no purpose, as imported entries have none), or when such an entry was lifted by staff
  after the row's own time;
- a consent choice is skipped when the person's current state already has that decision, or holds a
  later choice than the row's (the row would only go into history).

An import of consents never lifts a suppression (``import_recording`` says how).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from consent_service.domain.channels import Channel
from consent_service.domain.csv_consents import choice_columns, consent_rows
from consent_service.domain.csv_rows import BadFile, RowError, read_table
from consent_service.domain.csv_suppressions import (
    NOT_KEPT,
    SuppressionFileRow,
    SuppressionFormat,
    suppression_rows,
)
from consent_service.domain.errors import FieldError, InvalidInput
from consent_service.domain.evidence import TAKEN_BY_STAFF
from consent_service.domain.ledger import AffirmativeAction, Decision
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.suppressions import Suppression, SuppressionReason
from consent_service.services.bulk import QUIET, Progress, in_batches
from consent_service.services.context import Context
from consent_service.services.import_options import (
    ACTOR,
    IMPORT_SOURCES,
    ConsentImport,
    ConsentOptions,
    SuppressionImport,
    SuppressionOptions,
)
from consent_service.services.import_people import find_people
from consent_service.services.import_recording import ConsentWriter, ImportStopped
from consent_service.services.import_screening import ScreeningImport, ScreeningOptions, import_screening
from consent_service.services.suppressions import SuppressionInput, suppress

__all__ = [
    "ACTOR",
    "IMPORT_SOURCES",
    "ConsentImport",
    "ConsentOptions",
    "ScreeningImport",
    "ScreeningOptions",
    "SuppressionImport",
    "SuppressionOptions",
    "import_consents",
    "import_screening",
    "import_suppressions",
]


def _same(entry: Suppression, row: SuppressionFileRow) -> bool:
    return (
        entry.channel == row.channel
        and entry.scope is row.scope
        and entry.reason is row.reason
        and entry.purpose is None
    )


async def import_suppressions(
    ctx: Context, text: str, options: SuppressionOptions, progress: Progress = QUIET
) -> SuppressionImport:
    """Check every row, then (unless refused or a dry run) add the rows not on the list already."""
    progress.start("checking rows", None)
    table = read_table(text)
    rows, bad = suppression_rows(table, options.format, ctx.clock.now(), ctx.default_region)
    report = SuppressionImport(rows=len(table.records) + len(table.errors), bad=bad)
    if options.format is SuppressionFormat.GENERIC:
        report.not_kept = [column for column in NOT_KEPT if column in table.header]
    if bad and not options.skip_bad_rows:
        return report
    planned = [(row, ctx.fingerprint(row.point)) for row in rows]
    seen: set[tuple[str, Channel | None, str, str]] = set()
    progress.start("dry run" if options.dry_run else "importing suppressions", len(planned))
    for batch in in_batches(planned):
        session = ctx.store.reading() if options.dry_run else ctx.store.writing()
        async with session as uow:
            listed = await _listed(uow, batch)
            for row, fingerprint in batch:
                key = (fingerprint, row.channel, row.scope.value, row.reason.value)
                if key in seen:
                    report.repeated += 1
                    continue
                seen.add(key)
                same = [entry for entry in listed.get(fingerprint, []) if _same(entry, row)]
                if any(entry.lifted_at is None for entry in same):
                    report.present += 1
                    continue
                at = row.effective_at
                if at is not None and any(e.lifted_at and e.lifted_at > at for e in same):
                    report.lifted_since += 1
                    continue
                if not options.dry_run:
                    await suppress.within(
                        uow,
                        ctx,
                        SuppressionInput(
                            to=row.to,
                            channel=row.channel,
                            scope=row.scope,
                            reason=row.reason,
                            actor=options.actor,
                            source=options.source,
                            effective_at=row.effective_at,
                        ),
                    )
                report.added += 1
                if _late(row, options, ctx.clock.now()) and row.line not in report.late:
                    report.late.append(row.line)
        if not options.dry_run:
            report.committed_rows += len(batch)
        progress.advance(len(batch))
    report.written = not options.dry_run
    return report


def _late(row: SuppressionFileRow, options: SuppressionOptions, now: datetime) -> bool:
    """An FPS request is acted on within the Fundraising Regulator's deadline; one applied after it is
    still applied (a suppression is never refused) and reported, so the operator can see the delay."""
    return (
        row.reason is SuppressionReason.FPS
        and row.effective_at is not None
        and now - row.effective_at > timedelta(days=options.fps_deadline_days)
    )


async def _listed(
    uow: UnitOfWork, batch: Sequence[tuple[SuppressionFileRow, str]]
) -> dict[str, list[Suppression]]:
    """Entries (lifted ones too) for the batch's fingerprints, on each row's channel or every channel."""
    by_channel: dict[Channel | None, list[str]] = {}
    for row, fingerprint in batch:
        by_channel.setdefault(row.channel, []).append(fingerprint)
    found: dict[str, list[Suppression]] = {}
    for channel, fingerprints in by_channel.items():
        listed = await uow.suppressions.for_fingerprints(fingerprints, channel, include_lifted=True)
        for fingerprint, entries in listed.items():
            known = found.setdefault(fingerprint, [])
            known.extend(e for e in entries if e.id not in {k.id for k in known})
    return found


COUNTS = ("people_created", "contacts_added", "events", "unchanged", "superseded", "kept_suppressed")


async def _check_options(ctx: Context, options: ConsentOptions) -> dict[str, NoticeVersion]:
    errors: list[FieldError] = []
    if options.source not in IMPORT_SOURCES:
        errors.append(FieldError("source", f"an import cannot vouch for source {options.source.value}"))
    notices: dict[str, NoticeVersion] = {}
    for purpose, version in options.notices.items():
        if not await ctx.catalogue.has(purpose):
            errors.append(FieldError("notice", f"unknown purpose {purpose!r}"))
        elif (notice := await ctx.catalogue.notice(purpose, version)) is None:
            errors.append(FieldError("notice", f"no notice version {version} of {purpose!r}"))
        else:
            notices[purpose] = notice
    if errors:
        raise InvalidInput(errors, detail="; ".join(f"{e.field}: {e.message}" for e in errors))
    return notices


async def import_consents(
    ctx: Context, text: str, options: ConsentOptions, progress: Progress = QUIET
) -> ConsentImport:
    """Check every row and find its person, then (unless refused or a dry run) record what changed."""
    await ctx.catalogue.reload()
    notices = await _check_options(ctx, options)
    progress.start("checking rows", None)
    table = read_table(text)
    columns = choice_columns(table.header, ctx.catalogue.catalogue)
    rows, bad = consent_rows(table, columns, ctx.clock.now(), ctx.default_region)
    report = ConsentImport(rows=len(table.records) + len(table.errors))
    granted = sorted({c.purpose for row in rows for c in row.choices if c.decision is Decision.GRANTED})
    if granted and options.source in TAKEN_BY_STAFF and not options.staff_member:
        # Only grants are refused for their paperwork: a file of withdrawals is recorded, each event
        # naming the gap (DESIGN §4.1).
        raise InvalidInput.one(
            "staff_member", f"a request by {options.source.value.replace('_', ' ')} names who took it"
        )
    if granted and options.affirmative_action is None:
        acts = "|".join(a.value for a in AffirmativeAction)
        raise InvalidInput.one(
            "affirmative_action", f"the file grants: say how the people agreed (--affirmative-action {acts})"
        )
    unvouched = [purpose for purpose in granted if purpose not in notices]
    if unvouched:
        raise BadFile(
            f"the file grants {', '.join(unvouched)}: name the wording people were shown with "
            + " ".join(f"--notice {purpose}:VERSION" for purpose in unvouched)
        )
    progress.start("checking people", len(rows))
    keyed, unresolved = await find_people(ctx, rows, progress)
    report.bad = sorted([*bad, *unresolved], key=lambda e: e.line)
    if report.bad and not options.skip_bad_rows:
        return report
    writer = ConsentWriter(ctx, options, notices, report)
    progress.start("dry run" if options.dry_run else "importing consents", len(keyed))
    for batch in in_batches(keyed):
        counts = {name: getattr(report, name) for name in COUNTS}
        try:
            session = ctx.store.reading() if options.dry_run else ctx.store.writing()
            async with session as uow:
                if not options.dry_run:
                    # The batch's people held at once, in order, as every write that holds several does:
                    # two such writes never each wait for a person the other holds.
                    await uow.ledger.hold_chains([key for _, key in batch if not key.startswith("new:")])
                for row, key in batch:
                    await writer.apply(uow, row, key)
        except ImportStopped as exc:
            for name, value in counts.items():  # the batch was rolled back: it counts for nothing
                setattr(report, name, value)
            report.stopped = RowError(exc.line, exc.detail)
            return report
        if not options.dry_run:
            report.committed_rows += len(batch)
        writer.commit()
        progress.advance(len(batch))
    report.written = not options.dry_run
    return report
