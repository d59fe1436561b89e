"""Looking people up and reading their choices and history, as staff do during a phone call."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from consent_service.domain.changes import person_updated
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import contact_point, normalise_postcode
from consent_service.domain.errors import Conflict, InvalidContact, InvalidInput, NotFound
from consent_service.domain.ledger import ConsentEvent, CurrentConsent, fold
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis
from consent_service.services.choices import ContactInput, add_contact, normalise_contacts
from consent_service.services.context import Context
from consent_service.services.usecases import use_case


@dataclass(frozen=True, slots=True)
class ChoiceState:
    """One row of a person's preferences: every purpose and channel, with ``None`` where nothing was said."""

    purpose: str
    channel: Channel | None
    basis: Basis
    consent: CurrentConsent | None


async def _living(uow: UnitOfWork, person_id: str) -> bool:
    person = await uow.people.get(person_id)
    return person is not None and person.erased_at is None


async def find(
    ctx: Context, kind: ContactKind | None, value: str | None, reference: str | None
) -> list[Person]:
    async with ctx.store.reading() as uow:
        if reference is not None:
            person = await uow.people.by_reference(reference)
            return [person] if person else []
        if kind is None or value is None:
            raise InvalidInput.one("query", "give an email, a phone number or a reference")
        try:
            point = contact_point(kind, value, ctx.default_region)
        except InvalidContact as exc:
            raise InvalidInput.one(kind.value, str(exc)) from exc
        return await uow.people.by_fingerprint(ctx.fingerprint(point))


async def _held(uow: UnitOfWork, person_id: str) -> Person:
    person = await uow.people.get(person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {person_id}")
    return person


async def get(ctx: Context, person_id: str) -> Person:
    async with ctx.store.reading() as uow:
        return await _held(uow, person_id)


@dataclass(frozen=True, slots=True)
class Rectify:
    """New values for what is held (``reference``, ``household``, ``display_name``, ``birth_month``);
    others are kept."""

    person_id: str
    changes: Mapping[str, str | None]


@use_case(Person)
async def rectify(uow: UnitOfWork, ctx: Context, command: Rectify) -> Person:
    """Correct what is held: reference, household link, display name (the right to rectification)."""
    changes = command.changes
    person = await _held(uow, command.person_id)
    reference = changes.get("reference", person.reference)
    if reference and reference != person.reference and await uow.people.by_reference(reference):
        raise Conflict(f"a person with reference {reference!r} exists")
    changed = replace(
        person,
        reference=reference,
        household=changes.get("household", person.household),
        display_name=changes.get("display_name", person.display_name),
        birth_month=changes.get("birth_month", person.birth_month),
    )
    await uow.people.update(changed)
    uow.emit(person_updated(changed, ctx.clock.now()))
    return changed


async def _add_point(
    uow: UnitOfWork,
    ctx: Context,
    person: Person,
    contact: ContactInput,
    value: str | None = None,
    fingerprint: str | None = None,
) -> None:
    """Adds ``contact``, normalising it unless its ``value`` and ``fingerprint`` are given."""
    if value is None or fingerprint is None:
        [(contact, value, fingerprint)] = normalise_contacts(ctx, [contact], "")
    now = ctx.clock.now()
    point = RecordedContact(str(uuid.uuid4()), person.id, contact.kind, value, fingerprint, now)
    await add_contact(uow, point, person.reference)


async def _remove_point(uow: UnitOfWork, person: Person, contact_id: str) -> None:
    if not await uow.people.remove_contact(person.id, contact_id):
        raise NotFound(f"no contact point {contact_id} for person {person.id}")


@dataclass(frozen=True, slots=True)
class AddContact:
    person_id: str
    contact: ContactInput


@use_case(Person)
async def add_contact_point(uow: UnitOfWork, ctx: Context, command: AddContact) -> Person:
    """A new email, phone number or postal address for the person (one already held is kept once)."""
    person = await _held(uow, command.person_id)
    await _add_point(uow, ctx, person, command.contact)
    return await _held(uow, person.id)


@dataclass(frozen=True, slots=True)
class RemoveContact:
    person_id: str
    contact_id: str


@use_case(Person)
async def remove_contact_point(uow: UnitOfWork, ctx: Context, command: RemoveContact) -> Person:
    """The person no longer uses this point. Its suppressions are kept: they are held by fingerprint, not
    by person, so an address that opted out stays suppressed after it is no longer on record."""
    person = await _held(uow, command.person_id)
    await _remove_point(uow, person, command.contact_id)
    uow.emit(person_updated(person, ctx.clock.now()))
    return await _held(uow, person.id)


@dataclass(frozen=True, slots=True)
class CorrectContact:
    """A point typed wrongly, or changed: ``contact`` replaces the point ``contact_id``."""

    person_id: str
    contact_id: str
    contact: ContactInput


@use_case(Person)
async def correct_contact_point(uow: UnitOfWork, ctx: Context, command: CorrectContact) -> Person:
    """The new value is checked before the old one goes, so a bad correction changes nothing; the old
    point's suppressions stay with its fingerprint, as for a removal."""
    person = await _held(uow, command.person_id)
    [(contact, value, fingerprint)] = normalise_contacts(ctx, [command.contact], "")
    await _remove_point(uow, person, command.contact_id)
    await _add_point(uow, ctx, person, contact, value, fingerprint)
    uow.emit(person_updated(person, ctx.clock.now()))
    return await _held(uow, person.id)


async def choices(ctx: Context, person_id: str, at: datetime | None = None) -> list[ChoiceState]:
    async with ctx.store.reading() as uow:
        if not await _living(uow, person_id):
            raise NotFound(f"no person {person_id}")
        if at is None:
            states = (await uow.ledger.current([person_id])).get(person_id, [])
            by_key = {(s.purpose, s.channel): s for s in states}
        else:
            by_key = fold(await uow.ledger.events([person_id]), at)
    await ctx.catalogue.reload()
    return [
        ChoiceState(purpose.code, channel, basis, by_key.get((purpose.code, channel)))
        for purpose in ctx.catalogue.catalogue
        for channel, basis in purpose.bases.items()
    ]


async def history(ctx: Context, person_id: str) -> list[ConsentEvent]:
    async with ctx.store.reading() as uow:
        if not await _living(uow, person_id):
            raise NotFound(f"no person {person_id}")
        return await uow.ledger.events([person_id])


async def event(ctx: Context, person_id: str, event_id: str) -> ConsentEvent:
    """One of a living person's events, for its full evidence. Read from the person's own history (a
    few dozen events at most), so an event id never answers for someone else."""
    for found in await history(ctx, person_id):
        if found.id == event_id:
            return found
    raise NotFound(f"no event {event_id} for person {person_id}")


#: At most this many people a name or postcode search shows; staff are told to narrow a full page.
SEARCH_LIMIT = 20


async def search_by_name(ctx: Context, text: str, limit: int = SEARCH_LIMIT) -> list[Person]:
    """People whose name contains ``text`` (any case), for staff looking someone up during a call."""
    wanted = " ".join(text.split())
    if len(wanted) < 2:
        raise InvalidInput.one("name", "give at least two letters of the name")
    async with ctx.store.reading() as uow:
        return await uow.people.by_name(wanted, limit)


async def search_by_postcode(ctx: Context, text: str, limit: int = SEARCH_LIMIT) -> list[Person]:
    """People with a postal address at this postcode. The postcode is part of the postal point already
    held (DESIGN §2), so finding by it keeps nothing more about anyone."""
    try:
        postcode = normalise_postcode(text)
    except InvalidContact as exc:
        raise InvalidInput.one("postcode", str(exc)) from exc
    async with ctx.store.reading() as uow:
        return await uow.people.by_postcode(postcode, limit)
