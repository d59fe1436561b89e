"""Recording choices: registrations, people, and consent events with their side effects on suppression.

Each use case runs in one transaction (its own, or the one an idempotent write or an import opens
for it), so the event, the current state, the suppression it adds or lifts, and the idempotency
record commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from consent_service.domain.changes import (
    consent_recorded,
    contact_added,
    person_created,
    suppression_added,
    suppression_lifted,
)
from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.contacts import contact_point
from consent_service.domain.errors import Conflict, FieldError, InvalidContact, InvalidInput, NotFound
from consent_service.domain.ledger import (
    ConsentEvent,
    CurrentConsent,
    Decision,
    Evidence,
    Source,
    event_digest,
    evidence_digest,
    supersedes,
)
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.suppressions import (
    Suppression,
    SuppressionScope,
    lifted_by_grant,
    reason_for_withdrawal,
)
from consent_service.services.context import Context
from consent_service.services.usecases import use_case

#: A choice said to take effect later than this from now is a mistake, not a plan.
CLOCK_SKEW = timedelta(minutes=5)
#: A staff member recording a change more than this long after it was said must say why.
BACKDATING_NEEDS_A_REASON = timedelta(days=1)
#: Requests that reach staff: each is recorded with the staff member who took it.
TAKEN_BY_STAFF = frozenset({Source.PHONE_CALL, Source.LETTER, Source.EMAIL, Source.IN_PERSON})


@dataclass(frozen=True, slots=True)
class ContactInput:
    kind: ContactKind
    value: str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PersonInput:
    reference: str | None = None
    household: str | None = None
    display_name: str | None = None
    contacts: Sequence[ContactInput] = ()


@dataclass(frozen=True, slots=True)
class ChoiceInput:
    purpose: str
    channel: Channel | None
    decision: Decision
    notice: tuple[str, int] | None = None
    collection_context: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChoicesInput:
    choices: Sequence[ChoiceInput]
    source: Source
    actor: str
    effective_at: datetime | None = None
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True, slots=True)
class Register:
    """A registration form: the person (found by reference, or new) and their choices."""

    person: PersonInput
    choices: ChoicesInput


@dataclass(frozen=True, slots=True)
class RecordChoices:
    """Choices for a person already on record (a staff call, a form for a known person)."""

    person_id: str
    choices: ChoicesInput


@dataclass(frozen=True, slots=True)
class Recorded:
    """Choices recorded for a person: the events, and when (the first event's time, if there is one)."""

    person_id: str
    recorded_at: datetime
    events: tuple[ConsentEvent, ...]


@dataclass(frozen=True, slots=True)
class _Checked:
    choice: ChoiceInput
    purpose: Purpose
    basis: Basis
    notice_id: str | None


async def _check_choices(ctx: Context, request: ChoicesInput, prefix: str) -> list[_Checked]:
    """Every choice against the catalogue, all errors at once, before anything is written."""
    errors: list[FieldError] = []
    checked: list[_Checked] = []
    for i, choice in enumerate(request.choices):
        at = f"{prefix}choices[{i}]."
        try:
            purpose = await ctx.catalogue.purpose(choice.purpose, choice.channel, at)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        basis = purpose.bases[choice.channel]
        notice_id = None
        if choice.notice is not None:
            notice = await ctx.catalogue.notice(*choice.notice)
            if notice is None:
                errors.append(
                    FieldError(f"{at}notice", f"no notice version {choice.notice[1]} of {choice.notice[0]!r}")
                )
                continue
            if notice.purpose != purpose.code:
                errors.append(
                    FieldError(f"{at}notice", f"the notice is for {notice.purpose!r}, not {purpose.code!r}")
                )
                continue
            notice_id = notice.id
        if choice.decision is Decision.GRANTED and notice_id is None:
            errors.append(
                FieldError(f"{at}notice", "a grant must name the notice version the person was shown")
            )
            continue
        if choice.collection_context is not None and basis is not Basis.SOFT_OPT_IN:
            errors.append(
                FieldError(f"{at}collection_context", "only a soft opt-in records a collection context")
            )
            continue
        if (
            choice.collection_context is not None
            and choice.collection_context.get("opt_out_offered") is not True
        ):
            errors.append(
                FieldError(
                    f"{at}collection_context.opt_out_offered",
                    "a soft opt-in needs an opt-out offered at collection",
                )
            )
            continue
        checked.append(_Checked(choice, purpose, basis, notice_id))
    keys = [(c.choice.purpose, c.choice.channel) for c in checked]
    if len(set(keys)) != len(keys):
        errors.append(FieldError(f"{prefix}choices", "each purpose and channel may appear once"))
    if errors:
        raise InvalidInput(errors)
    return checked


def _effective_at(ctx: Context, request: ChoicesInput, prefix: str) -> datetime:
    """When the person said it, checked with the provenance a staff-taken request must carry."""
    now = ctx.clock.now()
    effective_at = request.effective_at or now
    errors: list[FieldError] = []
    if effective_at > now + CLOCK_SKEW:
        errors.append(FieldError(f"{prefix}effective_at", "a choice cannot take effect in the future"))
    if request.source in TAKEN_BY_STAFF:
        if not request.evidence.staff_member:
            errors.append(
                FieldError(
                    f"{prefix}evidence.staff_member",
                    f"a request by {request.source.value.replace('_', ' ')} names who took it",
                )
            )
        if now - effective_at > BACKDATING_NEEDS_A_REASON and not request.evidence.note:
            errors.append(
                FieldError(f"{prefix}evidence.note", "a change back-dated by more than a day needs a reason")
            )
    if errors:
        raise InvalidInput(errors)
    return effective_at


def normalise_contacts(
    ctx: Context, contacts: Sequence[ContactInput], prefix: str
) -> list[tuple[ContactInput, str, str]]:
    """(input, normalised value, fingerprint) for each contact; every invalid one reported by position."""
    errors: list[FieldError] = []
    result: list[tuple[ContactInput, str, str]] = []
    for i, contact in enumerate(contacts):
        try:
            point = contact_point(contact.kind, contact.value, ctx.default_region)
        except InvalidContact as exc:
            errors.append(FieldError(f"{prefix}contacts[{i}].value", str(exc)))
            continue
        result.append((contact, point.value, ctx.fingerprint(point)))
    if errors:
        raise InvalidInput(errors)
    return result


async def add_contact(uow: UnitOfWork, contact: RecordedContact, reference: str | None) -> RecordedContact:
    """The contact point as stored; announced (with the person's ``reference``) only when it is new
    to the person."""
    stored = await uow.people.add_contact(contact)
    if stored.id == contact.id:
        uow.emit(contact_added(stored, reference))
    return stored


async def _add_contacts(
    uow: UnitOfWork, ctx: Context, person: Person, contacts: list[tuple[ContactInput, str, str]]
) -> Person:
    """The person with these contact points added (one already held is kept, not repeated)."""
    now = ctx.clock.now()
    held = {c.id: c for c in person.contacts}
    for contact, value, fingerprint in contacts:
        stored = await add_contact(
            uow,
            RecordedContact(str(uuid.uuid4()), person.id, contact.kind, value, fingerprint, now),
            person.reference,
        )
        held[stored.id] = stored
    return replace(person, contacts=tuple(held.values()))


@use_case(Person)
async def create_person(uow: UnitOfWork, ctx: Context, request: PersonInput) -> Person:
    contacts = normalise_contacts(ctx, request.contacts, "")
    if request.reference and await uow.people.by_reference(request.reference):
        raise Conflict(f"a person with reference {request.reference!r} exists")
    person = Person(
        str(uuid.uuid4()), ctx.clock.now(), request.reference, request.household, request.display_name
    )
    await uow.people.add(person)
    uow.emit(person_created(person))
    return await _add_contacts(uow, ctx, person, contacts)


@use_case(Recorded)
async def register(uow: UnitOfWork, ctx: Context, command: Register) -> Recorded:
    """The one call a registration form makes: find or create the person, add contacts, record choices."""
    person, request = command.person, command.choices
    contacts = normalise_contacts(ctx, person.contacts, "person.")
    checked = await _check_choices(ctx, request, "")
    effective_at = _effective_at(ctx, request, "")
    existing = await uow.people.by_reference(person.reference) if person.reference else None
    if existing is None:
        existing = Person(
            str(uuid.uuid4()), ctx.clock.now(), person.reference, person.household, person.display_name
        )
        await uow.people.add(existing)
        uow.emit(person_created(existing))
    stored = await _add_contacts(uow, ctx, existing, contacts)
    return await _record(uow, ctx, stored, checked, request, effective_at)


@use_case(Recorded)
async def record_choices(uow: UnitOfWork, ctx: Context, command: RecordChoices) -> Recorded:
    request = command.choices
    checked = await _check_choices(ctx, request, "")
    effective_at = _effective_at(ctx, request, "")
    person = await uow.people.get(command.person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {command.person_id}")
    return await _record(uow, ctx, person, checked, request, effective_at)


async def _record(
    uow: UnitOfWork,
    ctx: Context,
    person: Person,
    checked: list[_Checked],
    request: ChoicesInput,
    effective_at: datetime,
) -> Recorded:
    now = ctx.clock.now()
    seq, prev = await uow.ledger.head_for_update()
    current = {(c.purpose, c.channel): c for c in (await uow.ledger.current([person.id])).get(person.id, [])}
    evidence_hash = evidence_digest(request.evidence)
    events: list[ConsentEvent] = []
    for item in checked:
        choice = item.choice
        seq += 1
        evidence = request.evidence
        if choice.collection_context is not None:
            evidence = replace(evidence, collection_context=dict(choice.collection_context))
        draft = ConsentEvent(
            id=str(uuid.uuid4()),
            seq=seq,
            person_id=person.id,
            purpose=choice.purpose,
            channel=choice.channel,
            decision=choice.decision,
            effective_at=effective_at,
            recorded_at=now,
            source=request.source,
            actor=request.actor,
            notice_id=item.notice_id,
            evidence=evidence,
            evidence_hash=evidence_hash if evidence is request.evidence else evidence_digest(evidence),
            prev_hash=prev,
        )
        event = replace(draft, hash=event_digest(draft, prev))
        prev = event.hash
        await uow.ledger.append(event)
        uow.emit(consent_recorded(event, person.reference))
        events.append(event)
        key = (choice.purpose, choice.channel)
        if not supersedes(event, current.get(key)):
            continue  # a late-arriving older choice goes into history only
        current[key] = CurrentConsent.from_event(event)
        await uow.ledger.save_current(person.id, current[key])
        await _update_suppressions(uow, ctx, person, item, event)
    await uow.ledger.set_head(seq, prev)
    return Recorded(person.id, now, tuple(events))


async def _update_suppressions(
    uow: UnitOfWork, ctx: Context, person: Person, item: _Checked, event: ConsentEvent
) -> None:
    """A withdrawal adds the person's addresses to the suppression list; their own re-grant lifts it."""
    channel = event.channel
    if channel is None or item.purpose.category is not Category.MARKETING:
        return
    fingerprints = [c.fingerprint for c in person.contacts if c.kind is CHANNEL_KIND[channel]]
    if not fingerprints:
        return
    if event.decision is Decision.WITHDRAWN:
        for fingerprint in fingerprints:
            entry = Suppression(
                id=str(uuid.uuid4()),
                fingerprint=fingerprint,
                channel=channel,
                scope=SuppressionScope.MARKETING,
                reason=reason_for_withdrawal(item.basis, event.source),
                purpose=event.purpose,
                source=event.source.value,
                actor=event.actor,
                effective_at=event.effective_at,
                recorded_at=event.recorded_at,
                note=f"consent event {event.id}",
            )
            await uow.suppressions.add(entry)
            uow.emit(suppression_added(entry))
        return
    entries = await uow.suppressions.for_fingerprints(fingerprints, channel, include_lifted=False)
    for entry in (e for group in entries.values() for e in group):
        if lifted_by_grant(entry, event):
            at = ctx.clock.now()
            reason = f"re-granted by the person: consent event {event.id}"
            if await uow.suppressions.lift(entry.id, at, reason, event.actor):
                uow.emit(suppression_lifted(entry.id, at))
