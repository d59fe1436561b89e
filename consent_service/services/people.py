"""Looking people up and reading their choices and history, as staff do during a phone call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import contact_point
from consent_service.domain.errors import InvalidContact, InvalidInput, NotFound
from consent_service.domain.ledger import ConsentEvent, CurrentConsent, fold
from consent_service.domain.people import Person
from consent_service.domain.purposes import Basis
from consent_service.services.context import Context


@dataclass(frozen=True, slots=True)
class ChoiceState:
    """One row of a person's preferences: every purpose and channel, with ``None`` where nothing was said."""

    purpose: str
    channel: Channel | None
    basis: Basis
    consent: CurrentConsent | None


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
    if person is None:
        raise NotFound(f"no person {person_id}")
    return person


async def choices(ctx: Context, person_id: str, at: datetime | None = None) -> list[ChoiceState]:
    async with ctx.store.reading() as uow:
        if await uow.people.get(person_id) is None:
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
        if await uow.people.get(person_id) is None:
            raise NotFound(f"no person {person_id}")
        return await uow.ledger.events([person_id])
