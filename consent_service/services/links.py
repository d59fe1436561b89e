"""Links for families: minting unsubscribe and preferences links, and what happens when they are used.

A family needs no account: the signed link is the capability. Opening a link changes nothing (mail
scanners open links); only a POST unsubscribes or saves preferences, and only after commit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent_service.domain.changes import suppression_added
from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind, channels_served_by
from consent_service.domain.contacts import ContactPoint, contact_point, mask
from consent_service.domain.errors import InvalidContact, InvalidInput, StoreUnavailable
from consent_service.domain.ledger import AffirmativeAction, Decision, Evidence, Source
from consent_service.domain.notices import FALLBACK_LANGUAGE, NoticeVersion
from consent_service.domain.people import first_name
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.spool import SpooledOptOut
from consent_service.domain.suppressions import (
    OBJECTION_NOTE,
    Suppression,
    SuppressionReason,
    objected,
    unsubscribed,
)
from consent_service.domain.tokens import FAMILY, LinkClaim, LinkKind
from consent_service.services.choices import ChoiceInput, ChoicesInput, RecordChoices, record_choices
from consent_service.services.context import Context

#: RFC 8058 §3.1: the header that makes ``List-Unsubscribe``'s HTTPS link a one-click POST.
ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@dataclass(frozen=True, slots=True)
class Links:
    """One address's links under the public base URL, and the headers a message to it carries."""

    url: str
    preferences_url: str
    #: ``List-Unsubscribe`` (RFC 2369: the HTTPS link, then the ``mailto:`` if one is configured) and
    #: ``List-Unsubscribe-Post`` (RFC 8058).
    headers: Mapping[str, str]


async def mint(
    ctx: Context,
    to: str | Mapping[str, Any],
    channel: Channel,
    purpose_code: str,
    language: str | None = None,
) -> Links:
    """Tokens for one address: an unsubscribe from one marketing purpose, and its preferences page;
    with ``language``, both pages open in it (outside the signature: a reader may switch anyway)."""
    purpose = await ctx.catalogue.purpose(purpose_code, channel)
    if purpose.category is not Category.MARKETING:
        raise InvalidInput.one("purpose", "only marketing can be unsubscribed from")
    try:
        point = contact_point(CHANNEL_KIND[channel], to, ctx.default_region)
    except InvalidContact as exc:
        raise InvalidInput.one("to", str(exc)) from exc
    return _signed(ctx, ctx.fingerprint(point), channel, purpose.code, language)


def _signed(
    ctx: Context, fingerprint: str, channel: Channel, purpose: str, language: str | None = None
) -> Links:
    """The one place links are made: two HMACs and some text, no database, so a bulk check can make
    one per allowed address."""
    token = ctx.links.sign(LinkClaim(LinkKind.UNSUBSCRIBE, fingerprint, channel, purpose))
    preferences = ctx.links.sign(preferences_claim(LinkClaim(LinkKind.UNSUBSCRIBE, fingerprint, channel)))
    query = f"?lang={language}" if language else ""
    url = f"{ctx.public_base_url}/unsubscribe/{token}{query}"
    targets = [f"<{url}>"]
    if ctx.unsubscribe_mailto:
        # The token in the subject lets whoever reads the mailbox act on exactly this opt-out.
        targets.append(f"<mailto:{ctx.unsubscribe_mailto}?subject=unsubscribe%20{token}>")
    return Links(
        url,
        f"{ctx.public_base_url}/preferences/{preferences}{query}",
        {"List-Unsubscribe": ", ".join(targets), **ONE_CLICK},
    )


async def for_allowed_emails(
    ctx: Context,
    purpose_code: str,
    channel: Channel | None,
    tos: Sequence[str | Mapping[str, Any] | None],
    allowed: Sequence[bool],
) -> list[Links | None]:
    """Each allowed marketing email's links, in the check's own answer (PECR reg 22(3)(c) and 23: no
    marketing email need go out without its opt-out, nor cost a mailing tool a call per recipient).
    None where there is nothing to unsubscribe from: a deny, another channel, a service message, a
    check by person."""
    found: list[Links | None] = [None] * len(allowed)
    if channel is not Channel.EMAIL:
        return found
    purpose = await ctx.catalogue.purpose(purpose_code, channel)
    if purpose.category is not Category.MARKETING:
        return found
    for i, (to, yes) in enumerate(zip(tos, allowed, strict=True)):
        if yes and to is not None:
            # An allowed answer was for an address that normalised, so this cannot fail.
            point = contact_point(CHANNEL_KIND[channel], to, ctx.default_region)
            found[i] = _signed(ctx, ctx.fingerprint(point), channel, purpose.code)
    return found


def preferences_claim(claim: LinkClaim) -> LinkClaim:
    """The preferences page for the address an unsubscribe link names."""
    return LinkClaim(LinkKind.PREFERENCES, claim.fingerprint, claim.channel)


@dataclass(frozen=True, slots=True)
class Addressee:
    """What a public page may show: the address masked, never in full."""

    masked: str | None
    person_ids: tuple[str, ...]
    #: Each person's first name (``domain/people.py: first_name``), or None where none is held: a
    #: shared address's page says whose choices it shows.
    names: tuple[str | None, ...] = ()

    @property
    def shared(self) -> bool:
        return len(self.person_ids) > 1


async def _addressee(uow: UnitOfWork, claim: LinkClaim) -> Addressee:
    people = await uow.people.by_fingerprint(claim.fingerprint)
    living = [p for p in people if p.erased_at is None]
    value = next((c for p in living for c in p.contacts if c.fingerprint == claim.fingerprint), None)
    masked = mask(ContactPoint(value.kind, value.value)) if value else None
    return Addressee(masked, tuple(p.id for p in living), tuple(first_name(p.display_name) for p in living))


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
            addressee = await _addressee(uow, claim)
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
    new is recorded however often the link is posted. The ledger's head is locked first, so two posts
    at the same moment queue and the second finds the first's work.

    If the database cannot take it, the opt-out goes to the spool on this host's disk and the family
    is told it is recorded only once the spool has synced it (DESIGN §4.1); it reaches the ledger,
    with the time the family pressed the button, when the database returns.
    """
    arrived = time.monotonic()
    claim = ctx.links.verify(token, LinkKind.UNSUBSCRIBE)
    purpose = await ctx.catalogue.purpose(claim.purpose or "", claim.channel)
    try:
        async with ctx.store.writing() as uow:
            await uow.ledger.head_for_update()
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
    if not already:  # committed, and the change signal moved: every check on every worker denies
        ctx.metrics.unsubscribe_took(time.monotonic() - arrived, "database")
    return UnsubscribePage(claim, purpose, addressee, already)


async def _unsubscribe(
    uow: UnitOfWork, ctx: Context, claim: LinkClaim, purpose: Purpose, at: datetime
) -> tuple[Addressee, bool]:
    """The unsubscribe's writes, effective ``at``; whether it had all been done before."""
    addressee = await _addressee(uow, claim)
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
        await uow.ledger.head_for_update()
        await _unsubscribe(uow, ctx, claim, purpose, entry.at)
        await uow.idempotency.complete(SPOOL_OWNER, entry.id, 200, "")
    return True


@dataclass(frozen=True, slots=True)
class PreferenceRow:
    """One purpose on one channel as the family sees it, with the wording they would agree to."""

    purpose: Purpose
    #: None for a purpose used on no channel (the family's story, as a testimonial).
    channel: Channel | None
    decision: Decision | None
    notice: NoticeVersion | None

    @property
    def allowed(self) -> bool:
        """What the row shows: post on legitimate interests is "yes" until the family says no."""
        if self.purpose.bases[self.channel] is Basis.LEGITIMATE_INTERESTS:
            return self.decision is not Decision.WITHDRAWN
        return self.decision is Decision.GRANTED


@dataclass(frozen=True, slots=True)
class PreferencesPage:
    claim: LinkClaim
    addressee: Addressee
    rows: tuple[PreferenceRow, ...]


def _shared(decisions: list[Decision | None]) -> Decision | None:
    """A shared address shows the most cautious state: anyone's "no", then anyone's silence, then "yes"."""
    if Decision.WITHDRAWN in decisions:
        return Decision.WITHDRAWN
    if None in decisions or not decisions:
        return None
    return Decision.GRANTED


def _link_may_change(claim: LinkClaim, addressee: Addressee, channel: Channel | None) -> bool:
    """What a link may change. The one person an address belongs to: every marketing choice of theirs
    (every channel, and their story). An address several people share proves no more than access to
    that address, so only its own channels, for everyone on it: never one person's phone or post
    choices, nor their permission to use their story."""
    if not addressee.shared:
        return True
    return channel is not None and CHANNEL_KIND[channel] is CHANNEL_KIND[claim.channel]


async def _rows(
    uow: UnitOfWork, ctx: Context, claim: LinkClaim, addressee: Addressee, language: str = FALLBACK_LANGUAGE
) -> tuple[PreferenceRow, ...]:
    """Every marketing purpose on every channel (or on none) this link may change, as it stands for
    everyone at the address, with the wording in the family's language (English when there is none
    in theirs)."""
    current = await uow.ledger.current(list(addressee.person_ids))
    state = {(pid, c.purpose, c.channel): c.decision for pid, states in current.items() for c in states}
    latest = ctx.catalogue.latest_requests(language)
    rows = []
    for purpose in ctx.catalogue.catalogue:
        if purpose.category is not Category.MARKETING:
            continue
        for channel in (c for c in purpose.channels if _link_may_change(claim, addressee, c)):
            decisions = [state.get((pid, purpose.code, channel)) for pid in addressee.person_ids]
            rows.append(PreferenceRow(purpose, channel, _shared(decisions), latest.get(purpose.code)))
    return tuple(rows)


async def describe_preferences(
    ctx: Context, token: str, language: str = FALLBACK_LANGUAGE
) -> PreferencesPage:
    """The choices this link may change, as they stand for everyone at this address."""
    claim = ctx.links.verify(token, LinkKind.PREFERENCES)
    await ctx.catalogue.reload()
    async with ctx.store.reading() as uow:
        addressee = await _addressee(uow, claim)
        rows = await _rows(uow, ctx, claim, addressee, language)
    return PreferencesPage(claim, addressee, rows)


async def save_preferences(
    ctx: Context,
    token: str,
    wanted: Mapping[tuple[str, Channel | None], bool],
    shown_versions: Mapping[str, int],
    language: str = FALLBACK_LANGUAGE,
) -> PreferencesPage:
    """Record each change the family made (only changes), with the notice version they were shown."""
    page = await describe_preferences(ctx, token, language)
    rows = {(r.purpose.code, r.channel): r for r in page.rows}
    choices: list[ChoiceInput] = []
    for (code, channel), allow in wanted.items():
        row = rows.get((code, channel))
        if row is None:
            where = f"{code}.{channel.value}" if channel else code
            raise InvalidInput.one(where, "not a choice this page offers")
        if allow == row.allowed:
            continue
        version = shown_versions.get(code)
        if not allow:
            choices.append(ChoiceInput(code, channel, Decision.WITHDRAWN))
        elif version is None:
            raise InvalidInput.one(f"notice.{code}", "the wording shown with the choice is missing")
        else:
            # The page offers "yes" beside "no", and "no" stands chosen until the family chooses
            # otherwise: a grant from it is always their own act, never a yes chosen for them.
            chose = AffirmativeAction.CHOSE_YES
            choices.append(ChoiceInput(code, channel, Decision.GRANTED, (code, version), None, chose, False))
    if choices and page.addressee.person_ids:
        request = ChoicesInput(choices, Source.PREFERENCE_CENTRE, FAMILY)
        async with ctx.store.writing() as uow:
            for person_id in page.addressee.person_ids:
                await record_choices.within(uow, ctx, RecordChoices(person_id, request))
    return await describe_preferences(ctx, token, language)


async def stop_all_marketing(ctx: Context, token: str, language: str = FALLBACK_LANGUAGE) -> PreferencesPage:
    """The family objects to direct marketing, in one step (UK GDPR Art 21(2)-(3)).

    For each person at the address, every marketing choice the link may change (``_rows``) that is
    not withdrawn already is withdrawn, noted as an objection, and the suppressions it adds say
    ``objected``. Each address the link may speak for (the person's every contact point; only this
    one where it is shared, or held for nobody, which would otherwise be a dead end) also gets an
    objection by fingerprint on each of its channels for every marketing purpose, so a purpose added
    later does not reach them either (Art 21(3)). Administrative messages are untouched: nothing is
    added in the ``all`` scope. The ledger's head is locked first and only what is still open is
    recorded, so a second press records nothing new.
    """
    claim = ctx.links.verify(token, LinkKind.PREFERENCES)
    await ctx.catalogue.reload()
    async with ctx.store.writing() as uow:
        await uow.ledger.head_for_update()
        addressee = await _addressee(uow, claim)
        offered = [(row.purpose.code, row.channel) for row in await _rows(uow, ctx, claim, addressee)]
        current = await uow.ledger.current(list(addressee.person_ids))
        for person_id in addressee.person_ids:
            withdrawn = {
                (c.purpose, c.channel) for c in current.get(person_id, []) if c.decision is Decision.WITHDRAWN
            }
            still_open = [
                ChoiceInput(code, channel, Decision.WITHDRAWN)
                for code, channel in offered
                if (code, channel) not in withdrawn
            ]
            if still_open:
                objection = ChoicesInput(
                    still_open,
                    Source.PREFERENCE_CENTRE,
                    FAMILY,
                    evidence=Evidence(note=OBJECTION_NOTE),
                    objection=True,
                )
                await record_choices.within(uow, ctx, RecordChoices(person_id, objection))
        addresses = {claim.fingerprint: CHANNEL_KIND[claim.channel]}
        if addressee.person_ids and not addressee.shared:
            people = await uow.people.by_fingerprint(claim.fingerprint)
            addresses |= {c.fingerprint: c.kind for p in people if p.erased_at is None for c in p.contacts}
        for fingerprint, kind in addresses.items():
            await _object_by_fingerprint(uow, ctx, fingerprint, kind)
    return await describe_preferences(ctx, token, language)


async def _object_by_fingerprint(uow: UnitOfWork, ctx: Context, fingerprint: str, kind: ContactKind) -> None:
    """An objection on each channel the address serves, unless one is in force there already."""
    for channel in channels_served_by(kind):
        found = await uow.suppressions.for_fingerprints([fingerprint], channel, False)
        if any(
            e.channel == channel and e.purpose is None and e.reason is SuppressionReason.OBJECTED
            for e in found.get(fingerprint, [])
        ):
            continue
        entry = objected(str(uuid.uuid4()), fingerprint, channel, ctx.clock.now())
        await uow.suppressions.add(entry)
        uow.emit(suppression_added(entry))
