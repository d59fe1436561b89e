"""Recording one row of a consent file, inside its batch's transaction: an import never lifts a suppression.

The domain refuses a lift for source ``import``; for any other source the organisation vouches for
(``paper_form``...), a grant that would lift an entry in force is recorded with source ``import``
instead, the vouched source kept in its note. However the recording rules change, each row checks
before its batch commits that no entry of its person was lifted, and stops the import if one was
(the batch is then rolled back).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.csv_consents import ConsentRow, RowChoice, compare_choice
from consent_service.domain.errors import DomainError, InvalidInput
from consent_service.domain.ledger import ConsentEvent, ConsentKey, CurrentConsent, Decision, Evidence, Source
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.suppressions import Suppression, lifted_by_grant
from consent_service.services.choices import (
    ChoiceInput,
    ChoicesInput,
    ContactInput,
    PersonInput,
    RecordChoices,
    add_contact,
    create_person,
    record_choices,
)
from consent_service.services.context import Context
from consent_service.services.import_options import ConsentImport, ConsentOptions
from consent_service.services.import_people import PersonKey
from consent_service.services.suppressions import carry_objection

__all__ = ["ConsentWriter", "ImportStopped"]


class ImportStopped(DomainError):
    """A row that passed the checks could not be written (the store changed meanwhile)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(detail)
        self.line = line


@dataclass(slots=True)
class ConsentWriter:
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
                raise ImportStopped(
                    row.line, "the person this row names was erased while the file was imported"
                )
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
            raise ImportStopped(row.line, detail) from exc
        except ImportStopped:
            raise
        except DomainError as exc:
            raise ImportStopped(row.line, exc.detail) from exc

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
            person = await create_person.within(
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
            had = [contact.fingerprint for contact in person.contacts]
            for point, fingerprint in fresh:
                await add_contact(
                    uow,
                    RecordedContact(str(uuid.uuid4()), person.id, point.kind, point.value, fingerprint, now),
                    person.reference,
                )
                await carry_objection(uow, ctx, had, fingerprint)
        if as_vouched:
            await record_choices.within(
                uow, ctx, RecordChoices(person.id, self._input(as_vouched, options.source, at, options.note))
            )
        if held_back:
            kept = (
                f"{options.note}; the organisation vouched for source {options.source.value}; recorded as"
                " an import because a suppression stands for this address, and an import never lifts one"
            )
            kept_back = self._input(held_back, Source.IMPORT, at, kept)
            await record_choices.within(uow, ctx, RecordChoices(person.id, kept_back))
        # However the recording rules change, an import never lifts a suppression: check, and roll back.
        after = await self._standing(uow, to_record, everyone)
        before_ids = {e.id for entries in standing.values() for e in entries}
        after_ids = {e.id for entries in after.values() for e in entries}
        if before_ids - after_ids:
            raise ImportStopped(
                row.line, "recording this row would have lifted a suppression; nothing was kept"
            )

    def _notice(self, purpose: str) -> tuple[str, int] | None:
        notice = self.notices.get(purpose)
        return (notice.purpose, notice.version) if notice else None

    def _input(
        self, choices: Sequence[RowChoice], source: Source, at: datetime, note: str | None
    ) -> ChoicesInput:
        return ChoicesInput(
            choices=[
                ChoiceInput(c.purpose, c.channel, c.decision, notice=self._notice(c.purpose))
                if c.decision is Decision.WITHDRAWN
                else ChoiceInput(
                    c.purpose,
                    c.channel,
                    c.decision,
                    notice=self._notice(c.purpose),
                    affirmative_action=self.options.affirmative_action,
                    pre_ticked=False,
                )
                for c in choices
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
