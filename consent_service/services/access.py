"""Subject access requests tracked to their one-month due date (UK GDPR Art 12(3)), and legal holds
that keep a person's record from retention and erasure (Art 17(3)(e))."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from consent_service.domain.access import AccessRequest, LegalHold, one_month_after
from consent_service.domain.errors import Conflict, InvalidInput, NotFound
from consent_service.domain.ports import UnitOfWork
from consent_service.services.context import Context
from consent_service.services.usecases import use_case


async def _person_on_file(uow: UnitOfWork, person_id: str) -> None:
    person = await uow.people.get(person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {person_id}")


@dataclass(frozen=True, slots=True)
class RecordAccessRequest:
    person_id: str
    #: The day the request reached the organisation (by any route: letter, email, in person).
    received_on: date
    actor: str


@use_case(AccessRequest)
async def record_request(uow: UnitOfWork, ctx: Context, command: RecordAccessRequest) -> AccessRequest:
    await _person_on_file(uow, command.person_id)
    now = ctx.clock.now()
    if command.received_on > now.date():
        raise InvalidInput.one("received_on", "a request cannot have been received in the future")
    request = AccessRequest(
        id=str(uuid.uuid4()),
        person_id=command.person_id,
        received_on=command.received_on,
        due_on=one_month_after(command.received_on),
        recorded_by=command.actor,
        recorded_at=now,
    )
    await uow.access_requests.add(request)
    return request


async def requests(ctx: Context, open_only: bool) -> list[AccessRequest]:
    async with ctx.store.reading() as uow:
        return await uow.access_requests.listed(open_only)


@dataclass(frozen=True, slots=True)
class AnswerAccessRequest:
    request_id: str
    actor: str


@use_case(AccessRequest)
async def answer_request(uow: UnitOfWork, ctx: Context, command: AnswerAccessRequest) -> AccessRequest:
    now = ctx.clock.now()
    if not await uow.access_requests.answered(command.request_id, now, command.actor):
        if await uow.access_requests.get(command.request_id) is None:
            raise NotFound(f"no subject access request {command.request_id}")
        raise Conflict(f"subject access request {command.request_id} was answered already")
    answered = await uow.access_requests.get(command.request_id)
    assert answered is not None  # noqa: S101 - written just above, in this transaction
    return answered


@dataclass(frozen=True, slots=True)
class PlaceHold:
    person_id: str
    reason: str
    actor: str


@use_case(LegalHold)
async def place_hold(uow: UnitOfWork, ctx: Context, command: PlaceHold) -> LegalHold:
    await _person_on_file(uow, command.person_id)
    hold = LegalHold(str(uuid.uuid4()), command.person_id, command.reason, command.actor, ctx.clock.now())
    await uow.legal_holds.add(hold)
    return hold


async def holds(ctx: Context, person_id: str) -> list[LegalHold]:
    async with ctx.store.reading() as uow:
        await _person_on_file(uow, person_id)
        return await uow.legal_holds.standing([person_id])


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    person_id: str
    hold_id: str
    actor: str


@use_case(LegalHold)
async def release_hold(uow: UnitOfWork, ctx: Context, command: ReleaseHold) -> LegalHold:
    standing = {h.id: h for h in await uow.legal_holds.standing([command.person_id])}
    hold = standing.get(command.hold_id)
    if hold is None:
        raise NotFound(f"no standing legal hold {command.hold_id} on person {command.person_id}")
    now = ctx.clock.now()
    await uow.legal_holds.release(hold.id, now, command.actor)
    return LegalHold(hold.id, hold.person_id, hold.reason, hold.placed_by, hold.placed_at, now, command.actor)
