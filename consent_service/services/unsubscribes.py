"""A family's unsubscribe link used: the page it opens, the one-click POST, and the opt-outs spooled
while the database was away, applied when it returns."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from consent_service.domain.changes import suppression_added
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.ledger import Decision, Source
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Category, Purpose
from consent_service.domain.spool import SpooledOptOut
from consent_service.domain.suppressions import Suppression, unsubscribed
from consent_service.domain.tokens import FAMILY, LinkClaim, LinkKind
from consent_service.services.choices import ChoiceInput, ChoicesInput, RecordChoices, record_choices
from consent_service.services.context import Context
from consent_service.services.links import Addressee, addressee_of


@dataclass(frozen=True, slots=True)
class UnsubscribePage:
    claim: LinkClaim
    purpose: Purpose
    addressee: Addressee
    already: bool
    #: Kept on this host's disk while the database is away; applied to the ledger when it returns.
    spooled: bool = False


def _spooled(ctx: Context, claim: LinkClaim, purpose: str) -> bool:
    return any(
        (e.fingerprint, e.channel, e.purpose) == (claim.fingerprint, claim.channel, purpose)
        for e in ctx.spool.pending()
    )


async def describe_unsubscribe(ctx: Context, token: str) -> UnsubscribePage:
    """What the confirmation page shows. Reads only.

    With the database away the page still offers the button (an opt-out is then spooled), only
    without the masked address it would show.
    """
    claim = ctx.links.verify(token, LinkKind.UNSUBSCRIBE)
    purpose = await ctx.catalogue.purpose(claim.purpose or "", claim.channel)
    spooled = _spooled(ctx, claim, purpose.code)
    try:
        async with ctx.store.reading() as uow:
            addressee = await addressee_of(uow, claim)
            already = await _unsubscribed(uow, claim, addressee)
    except StoreUnavailable as away:
        ctx.spool.stand_in(away)
        return UnsubscribePage(claim, purpose, Addressee(None, ()), already=spooled, spooled=spooled)
    return UnsubscribePage(claim, purpose, addressee, already or spooled, spooled)


async def _covering(uow: UnitOfWork, claim: LinkClaim, purpose: str) -> Suppression | None:
    entries = (await uow.suppressions.for_fingerprints([claim.fingerprint], claim.channel, False)).get(
        claim.fingerprint, []
    )
    return next((e for e in entries if e.covers(claim.channel, purpose, Category.MARKETING)), None)


async def _unsubscribed(uow: UnitOfWork, claim: LinkClaim, addressee: Addressee) -> bool:
    purpose = claim.purpose or ""
    if await _covering(uow, claim, purpose) is None:
        return False
    current = await uow.ledger.current(list(addressee.person_ids), purpose, claim.channel)
    return all(
        any(c.decision is Decision.WITHDRAWN for c in current.get(pid, [])) for pid in addressee.person_ids
    )


async def unsubscribe(ctx: Context, token: str) -> UnsubscribePage:
    """Withdraw the purpose on the channel for everyone at this address and suppress the address.

    Idempotent by state: if the address is already suppressed and everyone at it withdrawn, nothing
    new is recorded however often the link is posted.

    If the database cannot take it, the opt-out goes to the spool on this host's disk and the family
    is told it is recorded only once the spool has synced it (DESIGN §4.1); it reaches the ledger,
    with the time the family pressed the button, when the database returns.
    """
    arrived = time.monotonic()
    claim = ctx.links.verify(token, LinkKind.UNSUBSCRIBE)
    purpose = await ctx.catalogue.purpose(claim.purpose or "", claim.channel)
    try:
        async with ctx.store.writing() as uow:
            addressee, already = await _unsubscribe(uow, ctx, claim, purpose, ctx.clock.now())
    except StoreUnavailable as away:
        ctx.spool.stand_in(away)
        if not _spooled(ctx, claim, purpose.code):
            entry = SpooledOptOut(
                str(uuid.uuid4()), claim.fingerprint, claim.channel, purpose.code, ctx.clock.now()
            )
            try:
                await asyncio.to_thread(ctx.spool.append, entry)
            except OSError as exc:
                raise StoreUnavailable(f"neither the database nor the spool took it ({exc})") from exc
            # Spooled and synced, every check on this host denies it from here (DESIGN §4.1).
            ctx.metrics.unsubscribe_took(time.monotonic() - arrived, "spool")
        return UnsubscribePage(claim, purpose, Addressee(None, ()), already=False, spooled=True)
    if not already:  # committed, and published to the change feed: every check on every worker denies
        ctx.metrics.unsubscribe_took(time.monotonic() - arrived, "database")
    return UnsubscribePage(claim, purpose, addressee, already)


async def _unsubscribe(
    uow: UnitOfWork, ctx: Context, claim: LinkClaim, purpose: Purpose, at: datetime
) -> tuple[Addressee, bool]:
    """The unsubscribe's writes, effective ``at``; whether it had all been done before.

    The address, then everyone at it, is held first, so two posts at the same moment take turns and
    the second finds the first's work."""
    await uow.ledger.hold_address(claim.fingerprint)
    addressee = await addressee_of(uow, claim)
    await uow.ledger.hold_chains(addressee.person_ids)
    if await _unsubscribed(uow, claim, addressee):
        return addressee, True
    withdrawal = ChoicesInput(
        [ChoiceInput(purpose.code, claim.channel, Decision.WITHDRAWN)],
        Source.UNSUBSCRIBE_LINK,
        FAMILY,
        effective_at=at,
    )
    current = await uow.ledger.current(list(addressee.person_ids), purpose.code, claim.channel)
    for person_id in addressee.person_ids:
        if not any(c.decision is Decision.WITHDRAWN for c in current.get(person_id, [])):
            await record_choices.within(uow, ctx, RecordChoices(person_id, withdrawal))
    if await _covering(uow, claim, purpose.code) is None:
        entry = unsubscribed(
            str(uuid.uuid4()), claim.fingerprint, claim.channel, purpose.code, at, ctx.clock.now()
        )
        await uow.suppressions.add(entry)
        uow.emit(suppression_added(entry))
    return addressee, False


#: The idempotency owner under which applied spool entries are remembered.
SPOOL_OWNER = "opt-out spool"


async def apply_spooled(ctx: Context, entry: SpooledOptOut) -> bool:
    """Apply one spooled opt-out, exactly once: the entry's id is claimed in the same transaction,
    so a crash between commit and the spool's removal of the entry cannot apply it twice.
    False when it had been applied before."""
    claim = LinkClaim(LinkKind.UNSUBSCRIBE, entry.fingerprint, entry.channel, entry.purpose)
    purpose = await ctx.catalogue.purpose(entry.purpose, entry.channel)
    async with ctx.store.writing() as uow:
        if await uow.idempotency.claim(SPOOL_OWNER, entry.id, "", ctx.clock.now()) is not None:
            return False
        await _unsubscribe(uow, ctx, claim, purpose, entry.at)
        await uow.idempotency.complete(SPOOL_OWNER, entry.id, 200, "")
    return True
