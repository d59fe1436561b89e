"""The suppression list as staff and mailing tools use it: add, look up, list, lift with a reason.

What an entry says of itself is codes alone (``domain/suppressions.py``): no input here takes free text.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from consent_service.domain.changes import suppression_added, suppression_lift_refused, suppression_lifted
from consent_service.domain.channels import CHANNEL_KIND, Channel
from consent_service.domain.contacts import contact_point, guess_kind
from consent_service.domain.errors import Conflict, InvalidContact, InvalidInput, NotFound, ObjectionStands
from consent_service.domain.evidence import Gap
from consent_service.domain.people import Person
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.suppressions import (
    NEVER_LIFTED_BY_STAFF,
    LiftReason,
    Suppression,
    SuppressionHow,
    SuppressionReason,
    SuppressionScope,
)
from consent_service.services.context import Context
from consent_service.services.usecases import use_case

PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class SuppressionInput:
    to: str | Mapping[str, Any]
    channel: Channel | None
    scope: SuppressionScope
    reason: SuppressionReason
    actor: str
    source: str = "staff"
    purpose: str | None = None
    how: SuppressionHow | None = None
    effective_at: datetime | None = None


def fingerprint_of(ctx: Context, to: str | Mapping[str, Any], channel: Channel | None) -> str:
    kind = CHANNEL_KIND[channel] if channel else guess_kind(to)
    try:
        return ctx.fingerprint(contact_point(kind, to, ctx.default_region))
    except InvalidContact as exc:
        raise InvalidInput.one("to", str(exc)) from exc


@use_case(Suppression)
async def suppress(uow: UnitOfWork, ctx: Context, request: SuppressionInput) -> Suppression:
    purpose = request.purpose
    gaps: tuple[str, ...] = ()
    if purpose is not None and not await ctx.catalogue.has(purpose):
        # Never refused for a purpose code that does not resolve (DESIGN §4.1): the entry covers
        # every purpose in its scope instead, and says why.
        purpose, gaps = None, (Gap.PURPOSE.value,)
    now = ctx.clock.now()
    entry = Suppression(
        id=str(uuid.uuid4()),
        fingerprint=fingerprint_of(ctx, request.to, request.channel),
        channel=request.channel,
        scope=request.scope,
        reason=request.reason,
        purpose=purpose,
        source=request.source,
        actor=request.actor,
        effective_at=min(request.effective_at or now, now),
        recorded_at=now,
        how=request.how,
        evidence_gaps=gaps,
    )
    await uow.suppressions.add(entry)
    uow.emit(suppression_added(entry))
    return entry


async def carry_objection(uow: UnitOfWork, ctx: Context, held: Sequence[str], added: str) -> None:
    """A contact point added to a person who objected to all marketing is objected to from the start.

    The objection covers the person, not only the addresses they had then (UK GDPR Art 21(3)); the
    ledger's withdrawals cover the purposes of that day, this covers any marketing purpose since.
    """
    if not held or added in held:
        return
    found = await uow.suppressions.for_fingerprints(list(held), None, include_lifted=False)
    objections = [
        entry
        for group in found.values()
        for entry in group
        if entry.reason is SuppressionReason.OBJECTED
        and entry.scope is SuppressionScope.MARKETING
        and entry.purpose is None
    ]
    if not objections:
        return
    first = min(objections, key=lambda entry: entry.effective_at)
    entry = replace(
        first,
        id=str(uuid.uuid4()),
        fingerprint=added,
        recorded_at=ctx.clock.now(),
    )
    await uow.suppressions.add(entry)
    uow.emit(suppression_added(entry))


@dataclass(frozen=True, slots=True)
class LiftSuppression:
    entry_id: str
    reason: LiftReason
    actor: str


@use_case(Suppression)
async def lift(uow: UnitOfWork, ctx: Context, command: LiftSuppression) -> Suppression:
    """Staff lift an entry (a bounced address confirmed working, a mistake); the lifting stays on record.

    An objection is not lifted: the attempt is recorded in the change feed instead and the entry is
    returned as it stands, still in force (``lift_entry`` then refuses the request).
    """
    entry_id, reason, actor = command.entry_id, command.reason, command.actor
    entry = await uow.suppressions.get(entry_id)
    if entry is None:
        raise NotFound(f"no suppression {entry_id}")
    if entry.lifted_at is not None:
        raise Conflict(f"suppression {entry_id} was lifted already")
    now = ctx.clock.now()
    if entry.reason in NEVER_LIFTED_BY_STAFF:
        uow.emit(suppression_lift_refused(entry, actor, reason, now))
        return entry
    if await uow.suppressions.lift(entry_id, now, reason, actor):
        uow.emit(suppression_lifted(entry, now))
    return replace(entry, lifted_at=now, lift_reason=reason, lifted_by=actor)


async def lift_entry(ctx: Context, command: LiftSuppression) -> Suppression:
    """Lift an entry, or refuse to lift an objection once the refused attempt is committed to the feed."""
    entry = await lift(ctx, command)
    if entry.lifted_at is None:
        raise ObjectionStands(
            f"suppression {entry.id} records an objection to direct marketing, which no key or staff"
            " member can lift; only the person's own new grant re-opens a purpose and channel."
            " This attempt has been recorded."
        )
    return entry


async def lookup(ctx: Context, to: str | Mapping[str, Any], channel: Channel | None) -> list[Suppression]:
    fingerprint = fingerprint_of(ctx, to, channel)
    async with ctx.store.reading() as uow:
        found = await uow.suppressions.for_fingerprints([fingerprint], channel, include_lifted=True)
    return found.get(fingerprint, [])


async def page(
    ctx: Context,
    channel: Channel | None,
    reason: SuppressionReason | None,
    after: tuple[datetime, str] | None,
) -> tuple[list[Suppression], tuple[datetime, str] | None]:
    async with ctx.store.reading() as uow:
        entries = await uow.suppressions.page(channel, reason, after, PAGE_SIZE + 1)
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    return entries, (entries[-1].recorded_at, entries[-1].id) if more else None


async def of_person(ctx: Context, person: Person) -> dict[str, list[Suppression]]:
    """Every entry, lifted ones too, on each of the person's contact points (by contact id), newest
    first: what staff see and may lift during a call."""
    found: dict[str, list[Suppression]] = {}
    async with ctx.store.reading() as uow:
        for contact in person.contacts:
            entries: dict[str, Suppression] = {}
            for channel in (c for c, kind in CHANNEL_KIND.items() if kind is contact.kind):
                held = await uow.suppressions.for_fingerprints([contact.fingerprint], channel, True)
                entries.update((e.id, e) for e in held.get(contact.fingerprint, []))
            found[contact.id] = sorted(entries.values(), key=lambda e: e.recorded_at, reverse=True)
    return found
