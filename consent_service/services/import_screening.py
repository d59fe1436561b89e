"""Imports of TPS/CTPS screening files: every number checked before any is written (LEGAL #12).

A screening is recorded once per register and day: the same file imported twice changes nothing the
second time. The screening itself is written after all its numbers, so a check during the import sees
the previous screening (its numbers still listed) and never a fresh date over half a list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from consent_service.domain.csv_rows import BadFile
from consent_service.domain.tps import Register, screening_rows
from consent_service.services.bulk import QUIET, Progress, in_batches
from consent_service.services.context import Context
from consent_service.services.import_options import ACTOR, ImportReport

__all__ = ["ScreeningImport", "ScreeningOptions", "import_screening"]


@dataclass(frozen=True, slots=True)
class ScreeningOptions:
    register: Register
    #: The day the numbers were screened against the register (not the day of the import).
    screened_on: date
    skip_bad_rows: bool = False
    dry_run: bool = False
    actor: str = ACTOR


@dataclass(slots=True)
class ScreeningImport(ImportReport):
    #: Numbers recorded as found by this screening.
    added: int = 0
    #: Numbers already recorded by this screening or a later one.
    present: int = 0
    #: The same number appears earlier in the file.
    repeated: int = 0
    #: This register's screening of that day had been imported already.
    already_imported: bool = False


async def import_screening(
    ctx: Context, text: str, options: ScreeningOptions, progress: Progress = QUIET
) -> ScreeningImport:
    """Check every number, then (unless refused or a dry run) record those the screening found."""
    if options.screened_on > ctx.clock.now().date():
        raise BadFile(f"screened on {options.screened_on}: a screening cannot be dated in the future")
    progress.start("checking numbers", None)
    numbers, bad = screening_rows(text, ctx.default_region)
    report = ScreeningImport(rows=len(numbers) + len(bad), bad=bad)
    if bad and not options.skip_bad_rows:
        return report
    fingerprints = list(dict.fromkeys(ctx.fingerprint(n.point) for n in numbers))
    report.repeated = len(numbers) - len(fingerprints)
    progress.start("dry run" if options.dry_run else "importing screening", len(fingerprints))
    for batch in in_batches(fingerprints):
        session = ctx.store.reading() if options.dry_run else ctx.store.writing()
        async with session as uow:
            present = await uow.tps.found_since(options.register, batch, options.screened_on)
            fresh = [fp for fp in batch if fp not in present]
            report.present += len(present)
            report.added += len(fresh)
            if not options.dry_run:
                await uow.tps.record(options.register, fresh, options.screened_on)
                report.committed_rows += len(batch)
        progress.advance(len(batch))
    async with ctx.store.reading() if options.dry_run else ctx.store.writing() as uow:
        report.already_imported = await uow.tps.screened(options.register, options.screened_on)
        if not report.already_imported and not options.dry_run:
            await uow.tps.add_screening(
                str(uuid.uuid4()),
                options.register,
                options.screened_on,
                ctx.clock.now(),
                len(fingerprints),
                options.actor,
            )
    report.written = not options.dry_run
    return report
