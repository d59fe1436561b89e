"""Safeguarding restrictions: staff add them for a person or one contact point, and lift them on record."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from consent_service.domain.changes import restriction_added, restriction_lifted
from consent_service.domain.channels import CHANNEL_KIND, Channel
from consent_service.domain.contacts import contact_point, guess_kind
from consent_service.domain.errors import Conflict, InvalidContact, InvalidInput, NotFound
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.restrictions import Restriction
from consent_service.services.context import Context
from consent_service.services.usecases import use_case


@dataclass(frozen=True, slots=True)
class Restrict:
    """No contact with the person by ``channel`` (``None``: any), or only at ``to`` if given."""

    person_id: str
    channel: Channel | None
    to: str | Mapping[str, Any] | None
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class Restricted:
    restriction: Restriction
    #: The person's contact point the restriction is on, if it is on one.
    contact_id: str | None


@use_case(Restricted)
async def restrict(uow: UnitOfWork, ctx: Context, command: Restrict) -> Restricted:
    person_id, channel, to = command.person_id, command.channel, command.to
    person = await uow.people.get(person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {person_id}")
    fingerprint = None
    if to is not None:
        kind = CHANNEL_KIND[channel] if channel else guess_kind(to)
        try:
            fingerprint = ctx.fingerprint(contact_point(kind, to, ctx.default_region))
        except InvalidContact as exc:
            raise InvalidInput.one("to", str(exc)) from exc
        if fingerprint not in {c.fingerprint for c in person.contacts}:
            raise InvalidInput.one("to", "not one of this person's contact points")
    restriction = Restriction(
        str(uuid.uuid4()), person_id, fingerprint, channel, command.reason, command.actor, ctx.clock.now()
    )
    await uow.restrictions.add(restriction)
    uow.emit(restriction_added(restriction, person.reference))
    contact_ids = {c.fingerprint: c.id for c in person.contacts}
    return Restricted(restriction, contact_ids.get(fingerprint) if fingerprint else None)


@dataclass(frozen=True, slots=True)
class LiftRestriction:
    person_id: str
    restriction_id: str
    reason: str
    actor: str


@use_case(Restriction)
async def lift(uow: UnitOfWork, ctx: Context, command: LiftRestriction) -> Restriction:
    person_id, restriction_id = command.person_id, command.restriction_id
    restriction = await uow.restrictions.get(restriction_id)
    if restriction is None or restriction.person_id != person_id:
        raise NotFound(f"no restriction {restriction_id} for person {person_id}")
    if restriction.lifted_at is not None:
        raise Conflict(f"restriction {restriction_id} was lifted already")
    now = ctx.clock.now()
    if await uow.restrictions.lift(restriction_id, now, command.reason, command.actor):
        person = await uow.people.get(person_id)
        uow.emit(restriction_lifted(restriction, person.reference if person else None, now))
    return replace(restriction, lifted_at=now, lift_reason=command.reason, lifted_by=command.actor)


async def of_person(ctx: Context, person_id: str) -> list[Restriction]:
    async with ctx.store.reading() as uow:
        if await uow.people.get(person_id) is None:
            raise NotFound(f"no person {person_id}")
        return await uow.restrictions.for_people([person_id])
