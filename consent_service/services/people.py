"""Looking people up and reading their choices and history, as staff do during a phone call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from consent_service.domain.changes import person_updated
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import contact_point
from consent_service.domain.errors import Conflict, InvalidContact, InvalidInput, NotFound
from consent_service.domain.ledger import ConsentEvent, CurrentConsent, fold
from consent_service.domain.people import Person
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis
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


async def get(ctx: Context, person_id: str) -> Person:
    async with ctx.store.reading() as uow:
        person = await uow.people.get(person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {person_id}")
    return person


@dataclass(frozen=True, slots=True)
class Rectify:
    """New values for what is held (``reference``, ``household``, ``display_name``); others are kept."""

    person_id: str
    changes: Mapping[str, str | None]


@use_case(Person)
async def rectify(uow: UnitOfWork, ctx: Context, command: Rectify) -> Person:
    """Correct what is held: reference, household link, display name (the right to rectification)."""
    person_id, changes = command.person_id, command.changes
    person = await uow.people.get(person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {person_id}")
    reference = changes.get("reference", person.reference)
    if reference and reference != person.reference and await uow.people.by_reference(reference):
        raise Conflict(f"a person with reference {reference!r} exists")
    changed = replace(
        person,
        reference=reference,
        household=changes.get("household", person.household),
        display_name=changes.get("display_name", person.display_name),
    )
    await uow.people.update(changed)
    uow.emit(person_updated(changed, ctx.clock.now()))
    return changed


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


async def search_by_name(ctx: Context, text: str, limit: int = 20) -> list[Person]:
    """People whose name contains ``text`` (any case), for staff looking someone up during a call."""
    wanted = " ".join(text.split())
    if len(wanted) < 2:
        raise InvalidInput.one("name", "give at least two letters of the name")
    async with ctx.store.reading() as uow:
        return await uow.people.by_name(wanted, limit)
