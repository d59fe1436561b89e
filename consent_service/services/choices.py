"""Recording choices: registrations, people, and consent events with their side effects on suppression.

Each use case runs in one transaction (its own, or the one an idempotent write or an import opens
for it), so the event, the current state, the suppression it adds or lifts, and the idempotency
record commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from consent_service.domain.changes import (
    consent_recorded,
    contact_added,
    person_created,
    suppression_added,
    suppression_lifted,
)
from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.children import ADULT, Guardian, age_on, guardian_refusals
from consent_service.domain.contacts import contact_point
from consent_service.domain.errors import Conflict, FieldError, InvalidContact, InvalidInput, NotFound
from consent_service.domain.evidence import EXPLAINED, Gap, provenance_gaps, recorded_at_time, refuses
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
from consent_service.domain.notices import NoticeKind
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis, Catalogue, Category, Purpose
from consent_service.domain.suppressions import (
    Suppression,
    SuppressionScope,
    lifted_by_grant,
    reason_for_withdrawal,
)
from consent_service.services.context import Context
from consent_service.services.suppressions import carry_objection
from consent_service.services.usecases import use_case


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
    birth_month: str | None = None


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
    #: The withdrawals are the person's objection to direct marketing (UK GDPR Art 21(2)): the
    #: suppressions they add say ``objected`` whatever each channel's basis.
    objection: bool = False


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
    #: What this choice's own paperwork lacked (the request's provenance gaps are added in ``_record``).
    gaps: tuple[Gap, ...] = ()


def _covered_by(
    catalogue: Catalogue, choice: ChoiceInput
) -> tuple[list[tuple[Purpose, Channel | None]], Gap]:
    """What an opt-out naming a purpose or channel the catalogue does not have covers instead.

    The person's wish must not be lost to a typo in a purpose code (DESIGN §4.1), so the opt-out is
    widened, never narrowed: an unknown purpose stands for every marketing purpose on the channel
    named (every channel if none is, or if no marketing purpose uses it); a known purpose on a
    channel it does not use stands for the purpose on each of its channels.
    """
    known = catalogue.get(choice.purpose)
    if known is not None:
        return [(known, channel) for channel in known.channels], Gap.CHANNEL
    marketing = [p for p in catalogue if p.category is Category.MARKETING]
    on_channel: list[tuple[Purpose, Channel | None]] = [
        (p, choice.channel) for p in marketing if choice.channel is not None and choice.channel in p.bases
    ]
    return on_channel or [(p, c) for p in marketing for c in p.channels], Gap.PURPOSE


async def _check_choices(ctx: Context, request: ChoicesInput, prefix: str) -> list[_Checked]:
    """Every choice against the catalogue, all errors at once, before anything is written.

    A grant that does not fit the catalogue is refused field by field. A withdrawal is recorded
    whatever its paperwork lacks (DESIGN §4.1): a notice or collection context that does not fit is
    left off and named as a gap, and an unknown purpose or channel is widened (``_covered_by``).
    """
    errors: list[FieldError] = []
    checked: list[_Checked] = []
    widened: list[_Checked] = []
    for i, choice in enumerate(request.choices):
        at = f"{prefix}choices[{i}]."
        opt_out = choice.decision is Decision.WITHDRAWN
        gaps: list[Gap] = []
        try:
            purpose = await ctx.catalogue.purpose(choice.purpose, choice.channel, at)
        except InvalidInput as exc:
            if not opt_out:
                errors.extend(exc.errors)
                continue
            covered, gap = _covered_by(ctx.catalogue.catalogue, choice)
            widened.extend(
                _Checked(ChoiceInput(p.code, channel, Decision.WITHDRAWN), p, p.bases[channel], None, (gap,))
                for p, channel in covered
            )
            continue
        basis = purpose.bases[choice.channel]
        notice_id = None
        if choice.notice is not None:
            notice = await ctx.catalogue.notice(*choice.notice)
            if notice is None:
                message = f"no notice version {choice.notice[1]} of {choice.notice[0]!r}"
            elif notice.purpose != purpose.code:
                message = f"the notice is for {notice.purpose!r}, not {purpose.code!r}"
            elif notice.kind is not NoticeKind.CONSENT_REQUEST and choice.decision is Decision.GRANTED:
                message = f"that wording is {notice.kind.value.replace('_', ' ')}, not a consent request"
            elif (
                purpose.shares_with_controllers
                and not notice.controllers
                and choice.decision is Decision.GRANTED
            ):
                # LEGAL #29: consent others rely on is informed only if the wording names them.
                message = (
                    f"{purpose.code!r} is shared with other controllers, and this wording names none; "
                    "publish a wording that names them (controllers)"
                )
            else:
                message = ""
                notice_id = notice.id
            if message and not opt_out:
                errors.append(FieldError(f"{at}notice", message))
                continue
            if message:
                gaps.append(Gap.NOTICE)
        if choice.decision is Decision.GRANTED and notice_id is None:
            errors.append(
                FieldError(f"{at}notice", "a grant must name the notice version the person was shown")
            )
            continue
        context_error = None
        if choice.collection_context is not None and basis is not Basis.SOFT_OPT_IN:
            context_error = FieldError(
                f"{at}collection_context", "only a soft opt-in records a collection context"
            )
        elif (
            choice.collection_context is not None
            and choice.collection_context.get("opt_out_offered") is not True
        ):
            context_error = FieldError(
                f"{at}collection_context.opt_out_offered",
                "a soft opt-in needs an opt-out offered at collection",
            )
        elif choice.collection_context is not None and not choice.collection_context.get("opt_out_wording"):
            context_error = FieldError(
                f"{at}collection_context.opt_out_wording",
                "a soft opt-in records the opt-out as it was worded at collection",
            )
        if context_error is not None and not opt_out:
            errors.append(context_error)
            continue
        if context_error is not None:
            gaps.append(Gap.COLLECTION_CONTEXT)
            choice = replace(choice, collection_context=None)
        checked.append(_Checked(choice, purpose, basis, notice_id, tuple(gaps)))
    if errors:
        raise InvalidInput(errors)
    return _once_each(checked, widened, prefix)


def _once_each(checked: list[_Checked], widened: list[_Checked], prefix: str) -> list[_Checked]:
    """One choice per purpose and channel: a withdrawal named twice is one; a grant and a withdrawal of
    the same thing contradict each other and are refused; a widened opt-out gives way to a choice
    named outright."""
    by_key: dict[tuple[str, Channel | None], _Checked] = {}
    for item in checked:
        key = (item.choice.purpose, item.choice.channel)
        held = by_key.get(key)
        if held is None:
            by_key[key] = item
        elif held.choice.decision is Decision.WITHDRAWN and item.choice.decision is Decision.WITHDRAWN:
            by_key[key] = replace(held, gaps=_merged(held.gaps, item.gaps))
        else:
            raise InvalidInput.one(f"{prefix}choices", "each purpose and channel may appear once")
    for item in widened:
        key = (item.choice.purpose, item.choice.channel)
        held = by_key.get(key)
        if held is None:
            by_key[key] = item
        elif held.choice.decision is Decision.WITHDRAWN:
            by_key[key] = replace(held, gaps=_merged(held.gaps, item.gaps))
    return list(by_key.values())


def _merged(*groups: tuple[Gap, ...]) -> tuple[Gap, ...]:
    """The gaps of several sources, each once, in the order ``Gap`` declares them."""
    present = {gap for group in groups for gap in group}
    return tuple(gap for gap in Gap if gap in present)


def _effective_at(
    ctx: Context, request: ChoicesInput, checked: list[_Checked], prefix: str
) -> tuple[datetime, tuple[Gap, ...]]:
    """When the person said it, and what its provenance lacks; a grant lacking any is refused, field by
    field, with everything else in its call (DESIGN §4.1)."""
    now = ctx.clock.now()
    effective_at = request.effective_at or now
    gaps = provenance_gaps(request.source, request.evidence, effective_at, now)
    if any(refuses(item.choice.decision, gaps) for item in checked):
        raise InvalidInput([_refusal(gap, request.source, prefix) for gap in gaps])
    return recorded_at_time(effective_at, now), gaps


def _refusal(gap: Gap, source: Source, prefix: str) -> FieldError:
    if gap is Gap.STAFF_MEMBER:
        return FieldError(
            f"{prefix}evidence.staff_member",
            f"a request by {source.value.replace('_', ' ')} names who took it",
        )
    if gap is Gap.NOTE:
        return FieldError(f"{prefix}evidence.note", EXPLAINED[gap])
    return FieldError(f"{prefix}{gap.value}", EXPLAINED[gap])


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
    before = [c.fingerprint for c in person.contacts]
    for contact, value, fingerprint in contacts:
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
    checked = await _check_choices(ctx, request, "")
    effective_at, provenance = _effective_at(ctx, request, checked, "")
    existing = await uow.people.by_reference(person.reference) if person.reference else None
    # The later month of the one given and the one held is the younger age: the one that protects.
    held = existing.birth_month if existing else None
    birth_month = max((m for m in (person.birth_month, held) if m), default=None)
    await _check_children(uow, existing.id if existing else None, birth_month, checked, request, effective_at)
    if existing is None:
        existing = await _new_person(uow, ctx, person)
    stored = await _add_contacts(uow, ctx, existing, contacts)
    return await _record(uow, ctx, stored, checked, request, effective_at, provenance)


@use_case(Recorded)
async def record_choices(uow: UnitOfWork, ctx: Context, command: RecordChoices) -> Recorded:
    request = command.choices
    checked = await _check_choices(ctx, request, "")
    effective_at, provenance = _effective_at(ctx, request, checked, "")
    person = await uow.people.get(command.person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {command.person_id}")
    await _check_children(uow, person.id, person.birth_month, checked, request, effective_at)
    return await _record(uow, ctx, person, checked, request, effective_at, provenance)


async def _check_children(
    uow: UnitOfWork,
    person_id: str | None,
    birth_month: str | None,
    checked: list[_Checked],
    request: ChoicesInput,
    effective_at: datetime,
) -> None:
    """A child's grant that needs a guardian names one who is on record, another person, and an adult
    as far as the record says (LEGAL #30); refused field by field before anything is written."""
    evidence = request.evidence
    guardian = Guardian(evidence.guardian_id, evidence.guardian_relationship, evidence.child_assent)
    errors: dict[str, FieldError] = {}
    for item in checked:
        for error in guardian_refusals(
            birth_month,
            effective_at.date(),
            item.choice.purpose,
            item.choice.decision,
            request.source,
            guardian,
            "evidence.",
        ):
            errors.setdefault(error.field, error)
    if guardian.person_id is not None and any(i.choice.decision is Decision.GRANTED for i in checked):
        found = await uow.people.get(guardian.person_id)
        if found is None or found.erased_at is not None or found.id == person_id:
            message = "the guardian must be another person on record"
        elif found.birth_month is not None and age_on(found.birth_month, effective_at.date()) < ADULT:
            message = f"a guardian is {ADULT} or over"
        else:
            message = ""
        if message:
            errors.setdefault("evidence.guardian_id", FieldError("evidence.guardian_id", message))
    if errors:
        raise InvalidInput(list(errors.values()))


async def _record(
    uow: UnitOfWork,
    ctx: Context,
    person: Person,
    checked: list[_Checked],
    request: ChoicesInput,
    effective_at: datetime,
    provenance: tuple[Gap, ...],
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
            evidence_gaps=tuple(gap.value for gap in _merged(provenance, item.gaps)),
            basis=item.basis,
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
        await _update_suppressions(uow, ctx, person, item, event, request.objection)
    await uow.ledger.set_head(seq, prev)
    return Recorded(person.id, now, tuple(events))


async def _update_suppressions(
    uow: UnitOfWork, ctx: Context, person: Person, item: _Checked, event: ConsentEvent, objection: bool
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
                reason=reason_for_withdrawal(item.basis, event.source, objection),
                purpose=event.purpose,
                source=event.source.value,
                actor=event.actor,
                effective_at=event.effective_at,
                recorded_at=event.recorded_at,
                note=f"consent event {event.id}",
                evidence_gaps=event.evidence_gaps,
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
