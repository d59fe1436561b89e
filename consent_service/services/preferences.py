"""A family's preferences page: the marketing choices its link may change, saved, or all stopped at
once as an objection."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from consent_service.domain.changes import suppression_added
from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind, channels_served_by
from consent_service.domain.errors import InvalidInput
from consent_service.domain.ledger import AffirmativeAction, Decision, Evidence, Source
from consent_service.domain.notices import FALLBACK_LANGUAGE, NoticeVersion
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.suppressions import OBJECTION_NOTE, SuppressionReason, objected
from consent_service.domain.tokens import FAMILY, LinkClaim, LinkKind
from consent_service.services.choices import ChoiceInput, ChoicesInput, RecordChoices, record_choices
from consent_service.services.context import Context
from consent_service.services.links import Addressee, addressee_of


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
        addressee = await addressee_of(uow, claim)
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
            await uow.ledger.hold_chains(page.addressee.person_ids)
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
    added in the ``all`` scope. The address and everyone at it are held first and only what is still
    open is recorded, so a second press records nothing new.
    """
    claim = ctx.links.verify(token, LinkKind.PREFERENCES)
    await ctx.catalogue.reload()
    async with ctx.store.writing() as uow:
        await uow.ledger.hold_address(claim.fingerprint)
        addressee = await addressee_of(uow, claim)
        await uow.ledger.hold_chains(addressee.person_ids)
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
