"""People's rights: access (export), proof (consent receipts) and erasure (DESIGN §4.6)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent_service.domain.access import StaffChange, UnderLegalHold, staff_changes
from consent_service.domain.changes import person_erased, suppression_added
from consent_service.domain.consent_record import consent_record as record_27560
from consent_service.domain.errors import NotFound
from consent_service.domain.ledger import ConsentEvent, CurrentConsent, Decision
from consent_service.domain.people import Person
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.receipts import DataController, consent_receipt
from consent_service.domain.restrictions import Restriction
from consent_service.domain.suppressions import Suppression, SuppressionReason, SuppressionScope
from consent_service.services.context import Context
from consent_service.services.usecases import use_case


@dataclass(frozen=True, slots=True)
class Export:
    """Everything held on one person, and nothing on anyone else."""

    person: Person
    household_members: tuple[str, ...]
    current: tuple[CurrentConsent, ...]
    events: tuple[ConsentEvent, ...]
    restrictions: tuple[Restriction, ...]
    suppressions: tuple[Suppression, ...]
    generated_at: datetime
    #: A Kantara v1.1 receipt for every grant (a withdrawal has none: ``domain/receipts.py``).
    receipts: tuple[dict[str, Any], ...] = ()
    #: Every change to the record and who made it: the key or staff account, and the staff member.
    changes: tuple[StaffChange, ...] = ()


async def _living(uow: UnitOfWork, person_id: str) -> Person:
    person = await uow.people.get(person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {person_id}")
    return person


async def export(ctx: Context, person_id: str, controller: DataController) -> Export:
    async with ctx.store.reading() as uow:
        person = await _living(uow, person_id)
        members = await uow.people.household(person.household) if person.household else []
        current = (await uow.ledger.current([person_id])).get(person_id, [])
        events = await uow.ledger.events([person_id])
        restrictions = await uow.restrictions.for_people([person_id])
        fingerprints = [c.fingerprint for c in person.contacts]
        found = await uow.suppressions.for_fingerprints(fingerprints, None, include_lifted=True)
        by_channel = [
            await uow.suppressions.for_fingerprints(fingerprints, channel, include_lifted=True)
            for channel in {ch for c in person.contacts for ch in _channels(c.kind.value)}
        ]
    entries = {e.id: e for group in [found, *by_channel] for es in group.values() for e in es}
    suppressions = tuple(sorted(entries.values(), key=lambda e: e.recorded_at))
    await ctx.catalogue.reload()
    receipts = tuple(
        consent_receipt(e, purpose, ctx.catalogue.notice_by_id(e.notice_id), controller)
        for e in events
        if e.decision is Decision.GRANTED and (purpose := ctx.catalogue.catalogue.get(e.purpose))
    )
    return Export(
        person,
        tuple(m.id for m in members if m.id != person.id),
        tuple(current),
        tuple(events),
        tuple(restrictions),
        suppressions,
        ctx.clock.now(),
        receipts,
        tuple(staff_changes(events, restrictions, suppressions)),
    )


def _channels(kind: str) -> list[Any]:
    from consent_service.domain.channels import ContactKind, channels_served_by

    return list(channels_served_by(ContactKind(kind)))


async def erased_before(ctx: Context, person: Person) -> list[str]:
    """The ids of this person's contact points at which an earlier record was erased: found by the
    erasure's fingerprint tombstone, the only thing an erasure keeps, so nothing else can be told."""
    by_fingerprint: dict[str, list[str]] = {}
    for contact in person.contacts:
        by_fingerprint.setdefault(contact.fingerprint, []).append(contact.id)
    if not by_fingerprint:
        return []
    async with ctx.store.reading() as uow:
        found = await uow.suppressions.for_fingerprints(list(by_fingerprint), None, include_lifted=True)
    return [
        contact_id
        for fingerprint, entries in found.items()
        if any(e.reason is SuppressionReason.ERASED for e in entries)
        for contact_id in by_fingerprint.get(fingerprint, [])
    ]


async def receipt(ctx: Context, controller: DataController, person_id: str, event_id: str) -> dict[str, Any]:
    async with ctx.store.reading() as uow:
        await _living(uow, person_id)
        event = next((e for e in await uow.ledger.events([person_id]) if e.id == event_id), None)
    if event is None:
        raise NotFound(f"no event {event_id} for person {person_id}")
    await ctx.catalogue.has(event.purpose)
    purpose = ctx.catalogue.catalogue.get(event.purpose)
    if purpose is None:
        raise NotFound(f"purpose {event.purpose} is not in the catalogue")
    return consent_receipt(event, purpose, ctx.catalogue.notice_by_id(event.notice_id), controller)


async def consent_record(ctx: Context, controller: DataController, person_id: str) -> dict[str, Any]:
    """The person's whole consent history as one ISO/IEC TS 27560 record (``domain/consent_record.py``)."""
    async with ctx.store.reading() as uow:
        await _living(uow, person_id)
        events = await uow.ledger.events([person_id])
    await ctx.catalogue.reload()
    return record_27560(
        person_id,
        events,
        ctx.catalogue.catalogue.purposes,
        ctx.catalogue.notice_by_id,
        controller,
        ctx.clock.now(),
    )


@dataclass(frozen=True, slots=True)
class Erasure:
    person_id: str
    tombstones: int
    events_kept: int
    erased_at: datetime


@dataclass(frozen=True, slots=True)
class Erase:
    person_id: str
    #: Who erased, and why: kept on the tombstones.
    actor: str


@use_case(Erasure)
async def erase(uow: UnitOfWork, ctx: Context, command: Erase) -> Erasure:
    """Remove what identifies the person; keep fingerprint-only tombstones so they are never marketed
    to again, and the de-personalised ledger so counts and the hash chain still verify."""
    person_id, actor = command.person_id, command.actor
    person = await _living(uow, person_id)
    # A legal hold keeps the record whole, against the person's own request too: Art 17(3)(e) lifts
    # the right to erasure while the data is needed for legal claims (docs/COMPLIANCE.md row 28).
    held = await uow.legal_holds.standing([person_id])
    if held:
        raise UnderLegalHold(held[0])
    now = ctx.clock.now()
    fingerprints = list(dict.fromkeys(c.fingerprint for c in person.contacts))
    for fingerprint in fingerprints:
        tombstone = Suppression(
            id=str(uuid.uuid4()),
            fingerprint=fingerprint,
            channel=None,
            scope=SuppressionScope.MARKETING,
            reason=SuppressionReason.ERASED,
            purpose=None,
            source="erasure",
            actor=actor,
            effective_at=now,
            recorded_at=now,
        )
        await uow.suppressions.add(tombstone)
        uow.emit(suppression_added(tombstone))
    events = await uow.ledger.events([person_id])
    await uow.ledger.erase_evidence(person_id)
    await uow.restrictions.erase_reasons(person_id)
    await uow.idempotency.forget_mentioning(person_id)
    await uow.people.erase(person_id, now)
    uow.emit(person_erased(person, now))
    return Erasure(person_id, len(fingerprints), len(events), now)
