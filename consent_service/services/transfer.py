"""Import and export: suppression lists and consents as CSV files.

An import reads and checks the whole file before it writes anything. A file with a bad row changes
nothing unless the caller asks to skip bad rows; then the good rows are written, in batches, each
batch in one transaction (so the write lock is held briefly and opt-outs are never kept waiting).

Running the same file twice changes nothing the second time:

- a suppression row is skipped when an entry in force has the same fingerprint, channel, scope and
  reason (and no purpose, as imported entries have none), or when such an entry was lifted by staff
  after the row's own time;
- a consent choice is skipped when the person's current state already has that decision, or holds a
  later choice than the row's (the row would only go into history).

An import of consents never lifts a suppression. The domain already refuses a lift for source
``import``; for any other source the organisation vouches for (``paper_form``...), a grant that
would lift an entry in force is recorded with source ``import`` instead (the vouched source kept in
its note), and every batch checks before it commits that no entry of the people it touched was
lifted, and rolls back if one was.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TextIO, TypeVar

from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.csv_consents import (
    ConsentRow,
    RowChoice,
    choice_columns,
    compare_choice,
    consent_rows,
)
from consent_service.domain.csv_rows import BadFile, RowError, read_table
from consent_service.domain.csv_suppressions import SuppressionFormat, SuppressionRow, suppression_rows
from consent_service.domain.errors import DomainError, FieldError, InvalidInput
from consent_service.domain.ledger import ConsentEvent, ConsentKey, CurrentConsent, Decision, Evidence, Source
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.suppressions import Suppression, lifted_by_grant
from consent_service.services.choices import (
    TAKEN_BY_STAFF,
    ChoiceInput,
    ChoicesInput,
    ContactInput,
    PersonInput,
    add_contact,
    create_person,
    record_choices,
)
from consent_service.services.context import Context
from consent_service.services.suppressions import SuppressionInput, suppress

__all__ = [
    "ACTOR",
    "BATCH",
    "CONSENT_COLUMNS",
    "IMPORT_SOURCES",
    "SUPPRESSION_COLUMNS",
    "BadFile",
    "ConsentImport",
    "ConsentOptions",
    "Progress",
    "SuppressionImport",
    "SuppressionOptions",
    "export_consents",
    "export_suppressions",
    "import_consents",
    "import_suppressions",
]

#: Rows written per transaction.
BATCH = 200
#: Entries read per query when exporting.
EXPORT_PAGE = 1000
ACTOR = "consent-service import"
#: Sources an import may vouch for: not the service's own pages, which record their choices themselves.
IMPORT_SOURCES = tuple(s for s in Source if s not in (Source.UNSUBSCRIBE_LINK, Source.PREFERENCE_CENTRE))

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

T = TypeVar("T")


class Progress(Protocol):
    """Told how far an import or export has gone; the command line draws it as a bar."""

    def start(self, phase: str, total: int | None) -> None: ...
    def advance(self, count: int = 1) -> None: ...


class _Quiet:
    def start(self, phase: str, total: int | None) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        return None


QUIET: Progress = _Quiet()


class _Stopped(DomainError):
    """A row that passed the checks could not be written (the store changed meanwhile)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line


def _batches(items: Sequence[T], size: int = BATCH) -> Iterable[Sequence[T]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at else ""


@dataclass(slots=True)
class _Report:
    rows: int = 0
    bad: list[RowError] = field(default_factory=list)
    #: False when nothing was written: a dry run, or bad rows without --skip-bad-rows.
    written: bool = False
    #: Rows written (committed) before the import stopped, and where and why it stopped.
    committed_rows: int = 0
    stopped: RowError | None = None


# --- suppressions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuppressionOptions:
    format: SuppressionFormat = SuppressionFormat.GENERIC
    skip_bad_rows: bool = False
    dry_run: bool = False
    actor: str = ACTOR
    source: str = "import"


@dataclass(slots=True)
class SuppressionImport(_Report):
    added: int = 0
    #: An entry in force with the same fingerprint, channel, scope and reason exists.
    present: int = 0
    #: Such an entry was lifted by staff after the row's own time: the later decision stands.
    lifted_since: int = 0
    #: The same entry appears earlier in the file.
    repeated: int = 0


def _same(entry: Suppression, row: SuppressionRow) -> bool:
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
    if bad and not options.skip_bad_rows:
        return report
    planned = [(row, ctx.fingerprint(row.point)) for row in rows]
    seen: set[tuple[str, Channel | None, str, str]] = set()
    progress.start("dry run" if options.dry_run else "importing suppressions", len(planned))
    for batch in _batches(planned):
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
                    await suppress(
                        uow,
                        ctx,
                        SuppressionInput(
                            to=row.point.value,
                            channel=row.channel,
                            scope=row.scope,
                            reason=row.reason,
                            actor=options.actor,
                            source=options.source,
                            note=row.note,
                            effective_at=row.effective_at,
                        ),
                    )
                report.added += 1
        if not options.dry_run:
            report.committed_rows += len(batch)
        progress.advance(len(batch))
    report.written = not options.dry_run
    return report


async def _listed(
    uow: UnitOfWork, batch: Sequence[tuple[SuppressionRow, str]]
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


# --- consents -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentOptions:
    source: Source
    #: The notice version the organisation vouches each purpose's choices were made under.
    notices: Mapping[str, int]
    skip_bad_rows: bool = False
    dry_run: bool = False
    actor: str = ACTOR
    staff_member: str | None = None
    note: str = "imported from a CSV file"


@dataclass(slots=True)
class ConsentImport(_Report):
    people_created: int = 0
    contacts_added: int = 0
    events: int = 0
    #: The current state already had the row's decision.
    unchanged: int = 0
    #: A later choice is on record; the row's older one is not replayed.
    superseded: int = 0
    #: Grants recorded with source ``import`` because a suppression stands for the person's address.
    kept_suppressed: int = 0


COUNTS = ("people_created", "contacts_added", "events", "unchanged", "superseded", "kept_suppressed")

#: A person an import row names: an existing person's id, or ``new:<line>`` for one the file creates.
PersonKey = str


async def _check_options(ctx: Context, options: ConsentOptions) -> dict[str, NoticeVersion]:
    errors: list[FieldError] = []
    if options.source not in IMPORT_SOURCES:
        errors.append(FieldError("source", f"an import cannot vouch for source {options.source.value}"))
    if options.source in TAKEN_BY_STAFF and not options.staff_member:
        errors.append(
            FieldError(
                "staff_member", f"a request by {options.source.value.replace('_', ' ')} names who took it"
            )
        )
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
    unvouched = [purpose for purpose in granted if purpose not in notices]
    if unvouched:
        raise BadFile(
            f"the file grants {', '.join(unvouched)}: name the wording people were shown with "
            + " ".join(f"--notice {purpose}:VERSION" for purpose in unvouched)
        )
    progress.start("checking people", len(rows))
    keyed, unresolved = await _resolve(ctx, rows, progress)
    report.bad = sorted([*bad, *unresolved], key=lambda e: e.line)
    if report.bad and not options.skip_bad_rows:
        return report
    writer = _ConsentWriter(ctx, options, notices, report)
    progress.start("dry run" if options.dry_run else "importing consents", len(keyed))
    for batch in _batches(keyed):
        counts = {name: getattr(report, name) for name in COUNTS}
        try:
            session = ctx.store.reading() if options.dry_run else ctx.store.writing()
            async with session as uow:
                for row, key in batch:
                    await writer.apply(uow, row, key)
        except _Stopped as exc:
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


async def _resolve(
    ctx: Context, rows: Sequence[ConsentRow], progress: Progress
) -> tuple[list[tuple[ConsentRow, PersonKey]], list[RowError]]:
    """Each row's person: by reference when it has one, else by its addresses (which must name one
    person at most); a person the file itself creates is found again by later rows."""
    by_reference: dict[str, PersonKey] = {}
    by_fingerprint: dict[str, set[PersonKey]] = {}
    held: dict[str, set[PersonKey]] = {}
    seen: dict[tuple[PersonKey, str, Channel | None], int] = {}
    keyed: list[tuple[ConsentRow, PersonKey]] = []
    errors: list[RowError] = []
    for batch in _batches(rows):
        async with ctx.store.reading() as uow:
            for row in batch:
                fingerprints = [ctx.fingerprint(point) for point in row.contacts]
                if row.reference:
                    key = by_reference.get(row.reference)
                    if key is None:
                        person = await uow.people.by_reference(row.reference)
                        key = person.id if person else f"new:{row.line}"
                else:
                    candidates: set[PersonKey] = set()
                    for fingerprint in fingerprints:
                        if fingerprint not in held:
                            people = await uow.people.by_fingerprint(fingerprint)
                            held[fingerprint] = {p.id for p in people if p.erased_at is None}
                        candidates |= held[fingerprint] | by_fingerprint.get(fingerprint, set())
                    if len(candidates) > 1:
                        errors.append(
                            RowError(
                                row.line,
                                f"its email or phone belongs to {len(candidates)} people;"
                                " add a reference column to say which",
                            )
                        )
                        continue
                    key = candidates.pop() if candidates else f"new:{row.line}"
                repeated = [
                    f"{c.column}: this person's choice is given on line {seen[(key, c.purpose, c.channel)]}"
                    for c in row.choices
                    if (key, c.purpose, c.channel) in seen
                ]
                if repeated:
                    errors.append(RowError(row.line, "; ".join(repeated)))
                    continue
                for choice in row.choices:
                    seen[(key, choice.purpose, choice.channel)] = row.line
                if row.reference:
                    by_reference[row.reference] = key
                for fingerprint in fingerprints:
                    by_fingerprint.setdefault(fingerprint, set()).add(key)
                keyed.append((row, key))
            progress.advance(len(batch))
    return keyed, errors


@dataclass(slots=True)
class _ConsentWriter:
    """Writes (or, in a dry run, counts) one row at a time inside the batch's transaction."""

    ctx: Context
    options: ConsentOptions
    notices: Mapping[str, NoticeVersion]
    report: ConsentImport
    #: People this run created (or, in a dry run, would create), by the key the checks gave them.
    created: dict[PersonKey, str | None] = field(default_factory=dict)
    #: Contact points added to a person by this run, as (kind, fingerprint), so a dry run sees them too.
    added: dict[PersonKey, set[tuple[ContactKind, str]]] = field(default_factory=dict)
    _pending_created: dict[PersonKey, str | None] = field(default_factory=dict)

    def commit(self) -> None:
        self.created.update(self._pending_created)
        self._pending_created.clear()

    async def _person(self, uow: UnitOfWork, row: ConsentRow, key: PersonKey) -> Person | None:
        if not key.startswith("new:"):
            person = await uow.people.get(key)
            if person is None or person.erased_at is not None:
                raise _Stopped(row.line, "the person this row names was erased while the file was imported")
            return person
        made = self._pending_created.get(key) or self.created.get(key)
        if made:
            return await uow.people.get(made)
        if row.reference:  # made by someone else since the checks ran
            return await uow.people.by_reference(row.reference)
        return None

    async def apply(self, uow: UnitOfWork, row: ConsentRow, key: PersonKey) -> None:
        try:
            await self._apply(uow, row, key)
        except InvalidInput as exc:
            detail = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.detail
            raise _Stopped(row.line, detail) from exc
        except _Stopped:
            raise
        except DomainError as exc:
            raise _Stopped(row.line, exc.detail) from exc

    async def _apply(self, uow: UnitOfWork, row: ConsentRow, key: PersonKey) -> None:
        ctx, options, report = self.ctx, self.options, self.report
        now = ctx.clock.now()
        at = row.effective_at or now
        planned = key in self._pending_created or key in self.created
        person = await self._person(uow, row, key)
        held = {(c.kind, c.fingerprint) for c in person.contacts} if person else set()
        held |= self.added.get(key, set())
        points = [(point, ctx.fingerprint(point)) for point in row.contacts]
        fresh = [(point, fp) for point, fp in points if (point.kind, fp) not in held]
        everyone = held | {(point.kind, fp) for point, fp in points}

        current: dict[ConsentKey, CurrentConsent] = {}
        if person is not None:
            state = await uow.ledger.current([person.id])
            current = {(c.purpose, c.channel): c for c in state.get(person.id, [])}
        to_record: list[RowChoice] = []
        for choice in row.choices:
            outcome = compare_choice(current.get((choice.purpose, choice.channel)), choice.decision, at)
            if outcome == "unchanged":
                report.unchanged += 1
            elif outcome == "superseded":
                report.superseded += 1
            else:
                to_record.append(choice)

        standing = await self._standing(uow, to_record, everyone)
        held_back = [c for c in to_record if self._would_lift(c, standing.get(c.channel, []), at, now)]
        as_vouched = [c for c in to_record if c not in held_back]
        report.events += len(to_record)
        report.kept_suppressed += len(held_back)
        self.added.setdefault(key, set()).update((point.kind, fp) for point, fp in fresh)

        if person is None and not planned:
            report.people_created += 1
            self._pending_created[key] = None
        else:
            report.contacts_added += len(fresh)
        if options.dry_run:
            return

        if person is None:
            person = await create_person(
                uow,
                ctx,
                PersonInput(
                    reference=row.reference,
                    household=row.household,
                    display_name=row.display_name,
                    contacts=[ContactInput(point.kind, point.value) for point in row.contacts],
                ),
            )
            self._pending_created[key] = person.id
        else:
            for point, fingerprint in fresh:
                await add_contact(
                    uow,
                    RecordedContact(str(uuid.uuid4()), person.id, point.kind, point.value, fingerprint, now),
                )
        if as_vouched:
            await record_choices(
                uow, ctx, person.id, self._input(as_vouched, options.source, at, options.note)
            )
        if held_back:
            kept = (
                f"{options.note}; the organisation vouched for source {options.source.value}; recorded as"
                " an import because a suppression stands for this address, and an import never lifts one"
            )
            await record_choices(uow, ctx, person.id, self._input(held_back, Source.IMPORT, at, kept))
        # However the recording rules change, an import never lifts a suppression: check, and roll back.
        after = await self._standing(uow, to_record, everyone)
        before_ids = {e.id for entries in standing.values() for e in entries}
        after_ids = {e.id for entries in after.values() for e in entries}
        if before_ids - after_ids:
            raise _Stopped(row.line, "recording this row would have lifted a suppression; nothing was kept")

    def _notice(self, purpose: str) -> tuple[str, int] | None:
        notice = self.notices.get(purpose)
        return (notice.purpose, notice.version) if notice else None

    def _input(
        self, choices: Sequence[RowChoice], source: Source, at: datetime, note: str | None
    ) -> ChoicesInput:
        return ChoicesInput(
            choices=[
                ChoiceInput(c.purpose, c.channel, c.decision, notice=self._notice(c.purpose)) for c in choices
            ],
            source=source,
            actor=self.options.actor,
            effective_at=at,
            evidence=Evidence(staff_member=self.options.staff_member, note=note),
        )

    @staticmethod
    async def _standing(
        uow: UnitOfWork, choices: Sequence[RowChoice], contacts: set[tuple[ContactKind, str]]
    ) -> dict[Channel | None, list[Suppression]]:
        """Entries in force for the person's addresses on each channel a grant of the row is for."""
        standing: dict[Channel | None, list[Suppression]] = {}
        channels = {c.channel for c in choices if c.decision is Decision.GRANTED and c.channel}
        for channel in channels:
            fingerprints = [fp for kind, fp in contacts if kind is CHANNEL_KIND[channel]]
            if fingerprints:
                listed = await uow.suppressions.for_fingerprints(fingerprints, channel, include_lifted=False)
                standing[channel] = [e for entries in listed.values() for e in entries]
        return standing

    def _would_lift(
        self, choice: RowChoice, entries: Sequence[Suppression], at: datetime, now: datetime
    ) -> bool:
        if choice.decision is not Decision.GRANTED or not entries:
            return False
        notice = self.notices.get(choice.purpose)
        draft = ConsentEvent(
            id="",
            seq=0,
            person_id="",
            purpose=choice.purpose,
            channel=choice.channel,
            decision=choice.decision,
            effective_at=at,
            recorded_at=now,
            source=self.options.source,
            actor=self.options.actor,
            notice_id=notice.id if notice else None,
        )
        return any(lifted_by_grant(entry, draft) for entry in entries)


# --- exports --------------------------------------------------------------------------------------


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
