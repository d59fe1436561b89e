"""Recording choices: registrations, people, and consent events with their side effects on suppression.

Each use case runs in one transaction (its own, or the one an idempotent write or an import opens
for it), so the event, the current state, the suppression it adds or lifts, and the idempotency
record commit together or not at all. Every choice is checked first (``services/choice_checks.py``);
the commands are ``services/choice_inputs.py``'s, named here too for the callers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from consent_service.domain.changes import (
    consent_recorded,
    contact_added,
    person_created,
    suppression_added,
    suppression_lifted,
)
from consent_service.domain.channels import CHANNEL_KIND, Channel
from consent_service.domain.checkpoints import EMPTY_HEAD_HASH, ChainHead
from consent_service.domain.contacts import contact_point
from consent_service.domain.errors import Conflict, FieldError, InvalidContact, InvalidInput, NotFound
from consent_service.domain.evidence import Gap
from consent_service.domain.ledger import (
    ConsentEvent,
    CurrentConsent,
    Decision,
    Evidence,
    event_digest,
    evidence_digest,
    supersedes,
)
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Category
from consent_service.domain.suppressions import (
    LiftReason,
    Suppression,
    SuppressionScope,
    lifted_by_grant,
    reason_for_withdrawal,
)
from consent_service.services.choice_checks import (
    Checked,
    check_children,
    check_choices,
    check_provenance,
    merged_gaps,
)
from consent_service.services.choice_inputs import (
    ChoiceInput,
    ChoicesInput,
    ContactInput,
    PersonInput,
    RecordChoices,
    Recorded,
    Register,
)
from consent_service.services.context import Context
from consent_service.services.suppressions import carry_objection
from consent_service.services.usecases import use_case

__all__ = [
    "ChoiceInput",
    "ChoicesInput",
    "ContactInput",
    "PersonInput",
    "RecordChoices",
    "Recorded",
    "Register",
    "add_contact",
    "create_person",
    "normalise_contacts",
    "record_choices",
    "register",
]


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
    """The person with these contact points added (one already held is kept, not repeated).
    ``person`` is as read in this transaction, with every contact point they hold."""
    now = ctx.clock.now()
    held = {c.id: c for c in person.contacts}
    before = [c.fingerprint for c in person.contacts]
    for contact, value, fingerprint in contacts:
        if fingerprint not in before:
            stored = await add_contact(
                uow,
                RecordedContact(str(uuid.uuid4()), person.id, contact.kind, value, fingerprint, now),
                person.reference,
            )
            held[stored.id] = stored
        await carry_objection(uow, ctx, before, fingerprint)
    return replace(person, contacts=tuple(held.values()))


@use_case(Person)
async def create_person(uow: UnitOfWork, ctx: Context, request: PersonInput) -> Person:
    contacts = normalise_contacts(ctx, request.contacts, "")
    if request.reference and await uow.people.by_reference(request.reference):
        raise Conflict(f"a person with reference {request.reference!r} exists")
    return await _add_contacts(uow, ctx, await _new_person(uow, ctx, request), contacts)


async def _new_person(uow: UnitOfWork, ctx: Context, given: PersonInput) -> Person:
    """A person added to the record as given (contacts apart), and announced."""
    person = Person(
        str(uuid.uuid4()),
        ctx.clock.now(),
        given.reference,
        given.household,
        given.display_name,
        birth_month=given.birth_month,
    )
    await uow.people.add(person)
    uow.emit(person_created(person))
    return person


@use_case(Recorded)
async def register(uow: UnitOfWork, ctx: Context, command: Register) -> Recorded:
    """The one call a registration form makes: find or create the person, add contacts, record choices."""
    person, request = command.person, command.choices
    contacts = normalise_contacts(ctx, person.contacts, "person.")
    checked = await check_choices(ctx, request, "")
    effective_at, provenance = check_provenance(ctx, request, checked, "")
    existing = await uow.people.by_reference(person.reference) if person.reference else None
    # The later month of the one given and the one held is the younger age: the one that protects.
    held = existing.birth_month if existing else None
    birth_month = max((m for m in (person.birth_month, held) if m), default=None)
    await check_children(uow, existing.id if existing else None, birth_month, checked, request, effective_at)
    new = existing is None
    if existing is None:
        existing = await _new_person(uow, ctx, person)
    stored = await _add_contacts(uow, ctx, existing, contacts)
    return await _record(uow, ctx, stored, checked, request, effective_at, provenance, new=new)


@use_case(Recorded)
async def record_choices(uow: UnitOfWork, ctx: Context, command: RecordChoices) -> Recorded:
    request = command.choices
    checked = await check_choices(ctx, request, "")
    effective_at, provenance = check_provenance(ctx, request, checked, "")
    person = await uow.people.get(command.person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {command.person_id}")
    await check_children(uow, person.id, person.birth_month, checked, request, effective_at)
    return await _record(uow, ctx, person, checked, request, effective_at, provenance)


async def _record(
    uow: UnitOfWork,
    ctx: Context,
    person: Person,
    checked: list[Checked],
    request: ChoicesInput,
    effective_at: datetime,
    provenance: tuple[Gap, ...],
    *,
    new: bool = False,
) -> Recorded:
    """The choices recorded for ``person``; ``new``: the person was made in this transaction."""
    now = ctx.clock.now()
    current: dict[tuple[str, Channel | None], CurrentConsent] = {}
    if new:
        # Nobody else can reach a person before their first commit: their chain is empty and needs
        # no holding, and they have made no choices yet.
        prev = EMPTY_HEAD_HASH
    else:
        # The person's own chain, held until commit: writes for other people go on beside this one.
        prev = (await uow.ledger.hold_chains([person.id]))[person.id].hash
        for held in (await uow.ledger.current([person.id])).get(person.id, []):
            current[(held.purpose, held.channel)] = held
    seqs = await uow.ledger.next_seqs(len(checked))
    evidence_hash = evidence_digest(request.evidence)
    events: list[ConsentEvent] = []
    superseding: list[tuple[Checked, ConsentEvent]] = []
    for item, seq in zip(checked, seqs, strict=True):
        choice = item.choice
        evidence = _evidence_of(request, choice)
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
            evidence_gaps=tuple(gap.value for gap in merged_gaps(provenance, item.gaps)),
            basis=item.basis,
        )
        event = replace(draft, hash=event_digest(draft, prev))
        prev = event.hash
        uow.emit(consent_recorded(event, person.reference))
        events.append(event)
        key = (choice.purpose, choice.channel)
        if supersedes(event, current.get(key)):  # a late-arriving older choice goes into history only
            current[key] = CurrentConsent.from_event(event)
            superseding.append((item, event))
    if not events:
        return Recorded(person.id, now, ())
    # Each in one statement for the whole request: the events, then the choices they made current.
    await uow.ledger.append(events)
    await uow.ledger.save_current(person.id, [CurrentConsent.from_event(event) for _, event in superseding])
    in_force: dict[Channel, list[Suppression]] = {}  # read once a channel, however many grants touch it
    for item, event in superseding:
        await _update_suppressions(uow, ctx, person, item, event, request.objection, in_force)
    await uow.ledger.move_head(ChainHead(person.id, events[-1].seq, prev))
    return Recorded(person.id, now, tuple(events))


def _evidence_of(request: ChoicesInput, choice: ChoiceInput) -> Evidence:
    """The request's evidence with what this choice adds: its collection context and its act."""
    evidence = request.evidence
    if choice.collection_context is not None:
        evidence = replace(evidence, collection_context=dict(choice.collection_context))
    if choice.affirmative_action is not None or choice.pre_ticked is not None:
        evidence = replace(
            evidence, affirmative_action=choice.affirmative_action, pre_ticked=choice.pre_ticked
        )
    return evidence


async def _update_suppressions(
    uow: UnitOfWork,
    ctx: Context,
    person: Person,
    item: Checked,
    event: ConsentEvent,
    objection: bool,
    in_force: dict[Channel, list[Suppression]],
) -> None:
    """A withdrawal adds the person's addresses to the suppression list; their own re-grant lifts it.
    ``in_force``: the person's entries in force by channel, as read by an earlier grant of this request."""
    channel = event.channel
    if channel is None or item.purpose.category is not Category.MARKETING:
        return
    fingerprints = [c.fingerprint for c in person.contacts if c.kind is CHANNEL_KIND[channel]]
    if not fingerprints:
        return
    if event.decision is Decision.WITHDRAWN:
        in_force.pop(channel, None)  # a grant after this one must see the entries it adds
        for fingerprint in fingerprints:
            entry = Suppression(
                id=str(uuid.uuid4()),
                fingerprint=fingerprint,
                channel=channel,
                scope=SuppressionScope.MARKETING,
                reason=reason_for_withdrawal(item.basis, event.source, objection),
                purpose=event.purpose,
                source=event.source.value,
                actor=event.actor,
                effective_at=event.effective_at,
                recorded_at=event.recorded_at,
                evidence_gaps=event.evidence_gaps,
            )
            await uow.suppressions.add(entry)
            uow.emit(suppression_added(entry))
        return
    if channel not in in_force:
        entries = await uow.suppressions.for_fingerprints(fingerprints, channel, include_lifted=False)
        in_force[channel] = [e for group in entries.values() for e in group]
    kept = []
    for entry in in_force[channel]:
        if not lifted_by_grant(entry, event):
            kept.append(entry)
            continue
        at = ctx.clock.now()
        if await uow.suppressions.lift(entry.id, at, LiftReason.REGRANTED, event.actor):
            uow.emit(suppression_lifted(entry, at))
    in_force[channel] = kept
