"""Answering "may I contact?" for one address or person, or for a list of addresses (DESIGN §3, §4.2).

If the database cannot answer within the time budget, a marketing check is an explicit deny and an
administrative one an allow, both marked degraded; a bulk check is answered whole or not at all.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from consent_service.domain.absent import NoAnswerCache
from consent_service.domain.channels import CHANNEL_KIND, Channel
from consent_service.domain.contacts import contact_point
from consent_service.domain.decision import Answer, Facts, Reason, all_of, may_contact
from consent_service.domain.errors import InvalidContact, InvalidInput, NotFound, StoreUnavailable
from consent_service.domain.invalidation import depends_on
from consent_service.domain.ledger import FROM_THE_PERSON, CurrentConsent, Decision, fold
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Category, OrgType, Purpose
from consent_service.domain.repositories import AddressFacts
from consent_service.domain.restrictions import Restriction, restricted
from consent_service.domain.spool import SpooledOptOut, spooled_suppressions
from consent_service.domain.streams import Stream
from consent_service.domain.suppressions import Suppression, SuppressionReason
from consent_service.domain.tps import Screening
from consent_service.services.context import Context

ContactValue = str | Mapping[str, Any]

BULK_LIMIT = 10_000
#: What a check that may not use answers from memory is given instead of the cache.
NO_ANSWERS = NoAnswerCache()


@dataclass(frozen=True, slots=True)
class CheckInput:
    purpose: str
    channel: Channel | None = None
    to: ContactValue | None = None
    person_id: str | None = None
    at: datetime | None = None


async def category(ctx: Context, purpose_code: str, channel: Channel | None) -> Category:
    """The category the purpose was judged as (LEGAL #17): marketing, administrative or public task,
    named in every answer so a mailing tool can see which rules it was held to."""
    return (await ctx.catalogue.purpose(purpose_code, channel)).category


async def stream(ctx: Context, purpose_code: str, channel: Channel | None) -> Stream | None:
    """The sender and ``List-Id`` an email for this purpose goes out under (LEGAL #24), from the
    catalogue in memory and the settings; None off email, where neither header exists."""
    if channel is not Channel.EMAIL:
        return None
    purpose = await ctx.catalogue.purpose(purpose_code, channel)
    return ctx.streams[purpose.category]


def _degraded(purpose: Purpose, channel: Channel | None) -> Answer:
    if purpose.category is Category.ADMINISTRATIVE:
        return Answer(True, Reason.ADMINISTRATIVE, purpose.basis_for(channel), degraded=True)
    return Answer(False, Reason.STORE_UNAVAILABLE, purpose.basis_for(channel), degraded=True)


async def check(ctx: Context, request: CheckInput, *, counted: bool = True) -> Answer:
    """The answer, counted in the checks metric unless ``counted`` is False (a staff page showing it is
    not a mailing tool asking; the API counts it with ``count`` once the whole answer is made)."""
    answer = await _check(ctx, request)
    if counted:
        count(ctx, request, answer)
    return answer


def count(ctx: Context, request: CheckInput, answer: Answer) -> None:
    """One answer given to a mailing tool, in the checks metric."""
    channel = request.channel.value if request.channel else ""
    ctx.metrics.checked(request.purpose, channel, answer.allowed, answer.reason.value, answer.degraded)


async def _check(ctx: Context, request: CheckInput) -> Answer:
    purpose = await ctx.catalogue.purpose(request.purpose, request.channel)
    if request.to is None and request.person_id is None:
        raise InvalidInput.one("to", "give the address to check (to) or the person (person_id)")
    if request.to is not None and request.channel is None:
        raise InvalidInput.one("channel", "checking an address needs its channel")
    fingerprint = None
    if request.to is not None and request.channel is not None:
        try:
            point = contact_point(CHANNEL_KIND[request.channel], request.to, ctx.default_region)
        except InvalidContact as exc:
            raise InvalidInput.one("to", str(exc)) from exc
        fingerprint = ctx.fingerprint(point)
    at = request.at or ctx.clock.now()
    try:
        spooled = ctx.spool.pending()
    except StoreUnavailable:
        return _degraded(purpose, request.channel)
    # Only answers about now are cached; a point-in-time answer is always worked out from the ledger.
    # While opt-outs wait in the spool, answers in memory may predate them: none is used or kept.
    cache = ctx.answers if request.at is None and not spooled else NO_ANSWERS
    key = (fingerprint or "", request.person_id or "", purpose.code, request.channel or "")
    token = await cache.token()
    if (cached := cache.get(key, token)) is not None or (
        await cache.after_the_asker(key) and (cached := cache.get(key, token)) is not None
    ):
        ctx.metrics.answered_from("memory")
        return cached
    try:
        with cache.asking(key):
            async with asyncio.timeout(ctx.check_timeout):
                answer, topics = await _check_in_store(ctx, purpose, request, fingerprint, at, spooled)
            ctx.answers.database_answered()
            answer = _with_notice(ctx, answer)
            cache.put(key, token, answer, topics)
    except (TimeoutError, StoreUnavailable):
        # No distrust on one slow answer: under load a timeout is queueing, and sending every check
        # to the database then would only deepen the queue. Silence for ``trust`` seconds is enough.
        return _degraded(purpose, request.channel)
    ctx.metrics.answered_from("database")
    return answer


async def _check_in_store(
    ctx: Context,
    purpose: Purpose,
    request: CheckInput,
    fingerprint: str | None,
    at: datetime,
    spooled: frozenset[SpooledOptOut],
) -> tuple[Answer, frozenset[str]]:
    """The answer, and the topics it depends on (``domain/invalidation.py``): the addresses read and
    the people they belong to."""
    channel = request.channel
    if fingerprint is not None and channel is not None and request.at is None:
        # A check of an address now is a bulk check of one: the same reads (one statement, most
        # often), decided by the same code, so the two can never answer differently.
        async with ctx.check_reads.reading() as uow:
            facts = await _bulk_facts(uow, purpose, channel, [fingerprint], spooled, at)
        tps = Screening(fingerprint in facts.listed, facts.screened_on)
        answer = _address_answer(
            purpose, channel, fingerprint, facts, at, ctx.org_type, tps, request.person_id
        )
        holders = [pid for pid, _ in facts.stored.linked.get(fingerprint, [])]
        return answer, depends_on([fingerprint], holders)
    # A person's check, or one as things stood at a past time: each table read in turn.
    point_in_time = request.at is not None
    async with ctx.check_reads.reading() as uow:
        if fingerprint is not None:
            linked = (await uow.people.linked([fingerprint])).get(fingerprint, [])
            people = [(pid, erased) for pid, erased in linked if request.person_id in (None, pid)]
            fingerprints = [fingerprint]
        else:
            person = await uow.people.get(request.person_id or "")
            if person is None:
                raise NotFound(f"no person {request.person_id}")
            people = [(person.id, person.erased_at is not None)]
            kind = CHANNEL_KIND[channel] if channel else None
            fingerprints = [c.fingerprint for c in person.contacts if c.kind is kind]
        suppressions = _with_spooled(
            await _suppressions(uow, fingerprints, channel, point_in_time), spooled, fingerprints
        )
        person_ids = [pid for pid, _ in people]
        consents = await _consents(uow, person_ids, purpose, channel, request.at)
        restrictions = await uow.restrictions.for_people(person_ids) if person_ids else []
        entries = [entry for group in suppressions.values() for entry in group]
        own_grants = await _own_grants(uow, person_ids, entries, at)
        listed, screened_on = await _screening(uow, purpose, channel, fingerprints)
    tps = Screening(bool(listed), screened_on)
    answer = _decide(
        purpose,
        channel,
        people,
        consents,
        entries,
        restrictions,
        fingerprints,
        at,
        ctx.org_type,
        own_grants,
        tps,
    )
    return answer, depends_on(fingerprints, person_ids)


def _decide(
    purpose: Purpose,
    channel: Channel | None,
    people: Sequence[tuple[str, bool]],
    consents: Mapping[str, CurrentConsent],
    suppressions: list[Suppression],
    restrictions: Sequence[Restriction],
    fingerprints: Sequence[str],
    at: datetime,
    org: OrgType,
    own_grants: Mapping[str, datetime],
    tps: Screening | None = None,
) -> Answer:
    """The answer for one address (or person) from the facts read for it; single and bulk checks both
    end here, so the two can never decide differently. An address shared by several people is allowed
    only if every one of them allows it."""
    if not people:
        return may_contact(purpose, channel, Facts(suppressions=suppressions, tps=tps), at, org)
    return all_of(
        [
            may_contact(
                purpose,
                channel,
                Facts(
                    consents.get(pid),
                    suppressions,
                    restricted(restrictions, pid, channel, fingerprints, at),
                    erased,
                    own_grants.get(pid),
                    tps,
                ),
                at,
                org,
            )
            for pid, erased in people
        ]
    )


async def _screening(
    uow: UnitOfWork, purpose: Purpose, channel: Channel | None, fingerprints: Sequence[str]
) -> tuple[frozenset[str], date | None]:
    """The TPS/CTPS screening, read only for a live marketing call: nothing else consults it."""
    if channel is not Channel.PHONE or purpose.category is not Category.MARKETING:
        return frozenset(), None
    return await uow.tps.status(fingerprints)


async def _suppressions(
    uow: UnitOfWork, fingerprints: Sequence[str], channel: Channel | None, point_in_time: bool
) -> dict[str, list[Suppression]]:
    if not fingerprints:
        return {}
    return await uow.suppressions.for_fingerprints(fingerprints, channel, include_lifted=point_in_time)


async def _own_grants(
    uow: UnitOfWork, person_ids: Sequence[str], entries: Sequence[Suppression], at: datetime
) -> dict[str, datetime]:
    """Each person's newest grant of their own, read only when an erasure tombstone is on the address:
    it tells someone who registered again after the erasure from a re-import (LEGAL #16)."""
    if not person_ids or not any(e.reason is SuppressionReason.ERASED for e in entries):
        return {}
    latest: dict[str, datetime] = {}
    for event in await uow.ledger.events(person_ids):
        if (
            event.decision is Decision.GRANTED
            and event.source in FROM_THE_PERSON
            and event.effective_at <= at
        ):
            latest[event.person_id] = max(event.effective_at, latest.get(event.person_id, event.effective_at))
    return latest


def _with_spooled(
    suppressions: Mapping[str, list[Suppression]],
    spooled: frozenset[SpooledOptOut],
    fingerprints: Sequence[str],
) -> Mapping[str, list[Suppression]]:
    """A spooled opt-out counts as the suppression it will be once the database has it."""
    if not spooled:
        return suppressions
    merged = {fp: list(entries) for fp, entries in suppressions.items()}
    for fp, entries in spooled_suppressions(spooled, fingerprints).items():
        merged.setdefault(fp, []).extend(entries)
    return merged


async def _consents(
    uow: UnitOfWork, person_ids: Sequence[str], purpose: Purpose, channel: Channel | None, at: datetime | None
) -> dict[str, CurrentConsent]:
    """The current state, or with ``at`` the state folded from the ledger as it stood then."""
    if not person_ids:
        return {}
    if at is None:
        current = await uow.ledger.current(person_ids, purpose.code, channel)
        return {pid: states[0] for pid, states in current.items() if states}
    events = await uow.ledger.events(person_ids, purpose.code)
    result: dict[str, CurrentConsent] = {}
    for pid in person_ids:
        state = fold((e for e in events if e.person_id == pid), at).get((purpose.code, channel))
        if state is not None:
            result[pid] = state
    return result


def _with_notice(ctx: Context, answer: Answer) -> Answer:
    """Name the notice version behind a consent answer, as mailing tools keep it for their records."""
    if not answer.evidence or "notice_id" not in answer.evidence:
        return answer
    notice = ctx.catalogue.notice_by_id(answer.evidence["notice_id"])
    evidence = dict(answer.evidence)
    evidence["notice"] = {"purpose": notice.purpose, "version": notice.version} if notice else None
    return replace(answer, evidence=evidence)


@dataclass(frozen=True, slots=True)
class BulkAnswer:
    allowed: bool
    reason: Reason
    degraded: bool = False


#: Every bulk answer made so far, one per outcome (a few dozen at most): a list of 10,000 answers
#: holds references to these, as making one costs more than deciding an address held for nobody.
_BULK_ANSWERS: dict[tuple[bool, Reason, bool], BulkAnswer] = {}


def _bulk_answer(allowed: bool, reason: Reason, degraded: bool = False) -> BulkAnswer:
    outcome = (allowed, reason, degraded)
    answer = _BULK_ANSWERS.get(outcome)
    if answer is None:
        answer = _BULK_ANSWERS[outcome] = BulkAnswer(allowed, reason, degraded)
    return answer


async def check_many(
    ctx: Context, purpose_code: str, channel: Channel, addresses: Sequence[ContactValue]
) -> list[BulkAnswer]:
    """One answer per address, in input order; invalid addresses are denied as ``contact_invalid``."""
    answers = await _check_many(ctx, purpose_code, channel, addresses)
    # Counted by identity, as every answer is one of ``_BULK_ANSWERS``: hashing 10,000 answers by
    # value would hash each one's enum in Python.
    counts = Counter(map(id, answers))
    for answer in list(_BULK_ANSWERS.values()):
        if count := counts.get(id(answer)):
            ctx.metrics.checked(
                purpose_code, channel.value, answer.allowed, answer.reason.value, answer.degraded, count
            )
    return answers


def _fingerprints(ctx: Context, channel: Channel, addresses: Sequence[ContactValue]) -> list[str | None]:
    """Each address's fingerprint, or None where it is not a valid contact point of the channel's kind."""
    kind, region, fingerprint = CHANNEL_KIND[channel], ctx.default_region, ctx.fingerprint
    found: list[str | None] = []
    for value in addresses:
        try:
            found.append(fingerprint(contact_point(kind, value, region)))
        except InvalidContact:
            found.append(None)
    return found


async def _check_many(
    ctx: Context, purpose_code: str, channel: Channel, addresses: Sequence[ContactValue]
) -> list[BulkAnswer]:
    purpose = await ctx.catalogue.purpose(purpose_code, channel)
    if len(addresses) > BULK_LIMIT:
        raise InvalidInput.one("to", f"at most {BULK_LIMIT} addresses per request; use NDJSON for more")
    fingerprints = _fingerprints(ctx, channel, addresses)
    known = list(dict.fromkeys(fp for fp in fingerprints if fp is not None))
    now = ctx.clock.now()
    try:
        spooled = ctx.spool.pending()
        async with asyncio.timeout(max(ctx.check_timeout, ctx.check_timeout * len(known) / 500)):
            async with ctx.check_reads.reading() as uow:
                facts = await _bulk_facts(uow, purpose, channel, known, spooled, now)
    except (TimeoutError, StoreUnavailable):
        degraded = _degraded(purpose, channel)
        return [_bulk_answer(degraded.allowed, degraded.reason, True)] * len(addresses)
    answers = _bulk_answers(purpose, channel, known, facts, now, ctx.org_type)
    return [answers[fp] for fp in fingerprints]


@dataclass(frozen=True, slots=True)
class _BulkFacts:
    """What the store holds about a bulk check's addresses, each read once for all of them: ``stored``
    with the spooled opt-outs among its suppressions, and the rarer reads."""

    stored: AddressFacts
    own_grants: Mapping[str, datetime]
    listed: frozenset[str]
    screened_on: date | None


async def _bulk_facts(
    uow: UnitOfWork,
    purpose: Purpose,
    channel: Channel,
    known: Sequence[str],
    spooled: frozenset[SpooledOptOut],
    now: datetime,
) -> _BulkFacts:
    read = await uow.check_facts.about(known, purpose.code, channel)
    if spooled:
        read = replace(read, suppressions=_with_spooled(read.suppressions, spooled, known))
    tombstoned = [e for es in read.suppressions.values() for e in es if e.reason is SuppressionReason.ERASED]
    at_tombstones = {pid for e in tombstoned for pid, _ in read.linked.get(e.fingerprint, [])}
    own_grants = await _own_grants(uow, list(at_tombstones), tombstoned, now)
    listed, screened_on = await _screening(uow, purpose, channel, known)
    return _BulkFacts(read, own_grants, listed, screened_on)


def _bulk_answers(
    purpose: Purpose,
    channel: Channel,
    known: Sequence[str],
    facts: _BulkFacts,
    now: datetime,
    org: OrgType,
) -> dict[str | None, BulkAnswer]:
    """The answer for each fingerprint (None: an invalid address), each decided by ``_decide`` as a
    single check would be."""
    answers: dict[str | None, BulkAnswer] = {None: _bulk_answer(False, Reason.CONTACT_INVALID)}
    # Facts are immutable, so the two screenings an address can have are made once.
    listed, unlisted = Screening(True, facts.screened_on), Screening(False, facts.screened_on)
    nobody: BulkAnswer | None = None
    for fp in known:
        people = facts.stored.linked.get(fp, [])
        entries = facts.stored.suppressions.get(fp, [])
        on_register = fp in facts.listed
        if not people and not entries and not on_register:
            # Held for nobody and on no list: the same facts, so the same answer, for every such address.
            if nobody is None:
                none = _decide(purpose, channel, [], {}, [], [], [fp], now, org, {}, unlisted)
                nobody = _bulk_answer(none.allowed, none.reason)
            answers[fp] = nobody
            continue
        answer = _address_answer(purpose, channel, fp, facts, now, org, listed if on_register else unlisted)
        answers[fp] = _bulk_answer(answer.allowed, answer.reason)
    return answers


def _address_answer(
    purpose: Purpose,
    channel: Channel,
    fingerprint: str,
    facts: _BulkFacts,
    now: datetime,
    org: OrgType,
    tps: Screening,
    person_id: str | None = None,
) -> Answer:
    """The answer for one address of a bulk check, or a single check's (for one of its people, if it
    names one), from the facts read for all of them."""
    stored = facts.stored
    people = stored.linked.get(fingerprint, [])
    if person_id is not None:
        people = [(pid, erased) for pid, erased in people if pid == person_id]
    theirs = [r for pid, _ in people for r in stored.restrictions.get(pid, ())] if stored.restrictions else []
    return _decide(
        purpose,
        channel,
        people,
        stored.consents,
        stored.suppressions.get(fingerprint, []),
        theirs,
        [fingerprint],
        now,
        org,
        facts.own_grants,
        tps,
    )
