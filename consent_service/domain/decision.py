"""The decision: may we contact this person, on this channel, for this purpose? (DESIGN §3)

One pure function over the facts the store found. The order of the rules is the order of the
design's table: hard stops first, then the suppression list, then the legal basis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from consent_service.domain.channels import Channel
from consent_service.domain.ledger import FROM_THE_PERSON, CurrentConsent, Decision
from consent_service.domain.purposes import Basis, Category, OrgType, Purpose
from consent_service.domain.suppressions import Suppression, SuppressionReason
from consent_service.domain.tps import Screening


class Reason(StrEnum):
    CONSENT_GRANTED = "consent_granted"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OBJECTED = "objected"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    SOFT_OPT_IN = "soft_opt_in"
    #: The charity soft opt-in (PECR reg 22(3A)) for an organisation that is not a charity.
    SOFT_OPT_IN_NOT_CHARITY = "soft_opt_in_not_charity"
    #: The commercial soft opt-in (PECR reg 22(3)) for an organisation that is not a company.
    SOFT_OPT_IN_NOT_COMPANY = "soft_opt_in_not_company"
    #: Charity soft opt-in details collected before reg 22(3A) came into force.
    SOFT_OPT_IN_BEFORE_2026_02_05 = "soft_opt_in_before_2026_02_05"
    #: No opt-out offered at collection, or its wording not recorded.
    SOFT_OPT_IN_NO_OPT_OUT_OFFERED = "soft_opt_in_no_opt_out_offered"
    #: The details did not come from support, an enquiry, a sale or a negotiation.
    SOFT_OPT_IN_NO_QUALIFYING_RELATIONSHIP = "soft_opt_in_no_qualifying_relationship"
    PUBLIC_TASK = "public_task"
    #: A public-task purpose where the organisation is not a public authority (LEGAL #17).
    PUBLIC_TASK_NOT_PUBLIC_AUTHORITY = "public_task_not_public_authority"
    SUPPRESSED = "suppressed"
    ADMINISTRATIVE = "administrative"
    CONTACT_RESTRICTED = "contact_restricted"
    CONTACT_INVALID = "contact_invalid"
    PERSON_ERASED = "person_erased"
    STORE_UNAVAILABLE = "store_unavailable"
    #: A live marketing call to a number on the TPS or CTPS, without this organisation's specific
    #: consent to its calls (PECR reg 21, LEGAL #12).
    TPS_LISTED = "tps_listed"
    #: A live marketing call without specific consent while the latest TPS/CTPS screening is more than
    #: 28 days old, or none was imported: the service cannot tell, so it fails closed.
    TPS_SCREENING_STALE = "tps_screening_stale"
    #: An automated marketing call needs the person's consent; no other basis will do (PECR reg 19).
    AUTOMATED_CALL_NEEDS_CONSENT = "automated_call_needs_consent"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store holds about the addressee: one person (or none known) and one contact point."""

    consent: CurrentConsent | None = None
    suppressions: Sequence[Suppression] = ()
    restricted: bool = False
    erased: bool = False
    #: When the person last granted anything themselves (any purpose; an import is not them). Read only
    #: when an erasure tombstone is on the address: a newer own grant means they registered again.
    own_grant_at: datetime | None = None
    #: The number's TPS/CTPS screening, for live calls (``None``: not looked up, as if never screened).
    tps: Screening | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    allowed: bool
    reason: Reason
    basis: Basis | None = None
    evidence: Mapping[str, Any] | None = None
    degraded: bool = False


#: PECR reg 22(3A), inserted by the Data (Use and Access) Act 2025 s.114, in force from this day.
CHARITY_SOFT_OPT_IN_FROM = date(2026, 2, 5)
#: Relationships in which a charity may collect details for its soft opt-in: the person supported, or
#: asked about, its work. A service user is not among them: receiving a service is not, by itself,
#: support for or interest in the charity's purposes (a judgment the project made; docs/COMPLIANCE.md).
CHARITY_RELATIONSHIPS = frozenset({"supporter", "enquirer"})
#: Relationships in which a company may collect details for its soft opt-in: a sale, or its negotiation.
COMMERCIAL_RELATIONSHIPS = frozenset({"customer", "negotiation"})


def soft_opt_in_refusal(consent: CurrentConsent, org: OrgType) -> Reason | None:
    """Why a soft opt-in (PECR reg 22(3) or (3A)) does not hold, naming the first condition failed.

    The relationship recorded at collection chooses the route: support or an enquiry is the charity
    route, open only to charities for details collected on or after 2026-02-05; a sale or negotiation
    is the commercial route, open to companies (a charity's trading is done by its trading company,
    which deploys as a ``company``). Either route needs the opt-out offered at collection, its
    wording recorded.
    """
    context = consent.collection_context or {}
    relationship = context.get("relationship")
    if relationship in CHARITY_RELATIONSHIPS:
        if org is not OrgType.CHARITY:
            return Reason.SOFT_OPT_IN_NOT_CHARITY
        if _collected_on(context, consent) < CHARITY_SOFT_OPT_IN_FROM:
            return Reason.SOFT_OPT_IN_BEFORE_2026_02_05
    elif relationship in COMMERCIAL_RELATIONSHIPS:
        if org is not OrgType.COMPANY:
            return Reason.SOFT_OPT_IN_NOT_COMPANY
    else:
        return Reason.SOFT_OPT_IN_NO_QUALIFYING_RELATIONSHIP
    if context.get("opt_out_offered") is not True or not str(context.get("opt_out_wording") or "").strip():
        return Reason.SOFT_OPT_IN_NO_OPT_OUT_OFFERED
    return None


def _collected_on(context: Mapping[str, Any], consent: CurrentConsent) -> date:
    """When the details were collected: as recorded, else the day the soft opt-in took effect."""
    given = context.get("collected_on")
    if isinstance(given, str):
        try:
            return date.fromisoformat(given)
        except ValueError:
            pass
    return consent.effective_at.date()


def reopened(entry: Suppression, consent: CurrentConsent | None) -> bool:
    """Whether the person's own grant, given after an objection, re-opens this purpose and channel.

    An objection to direct marketing is absolute (UK GDPR Art 21(3)): no one but the person can undo
    it, and they undo it one purpose and channel at a time, by a fresh affirmative grant, backed by
    the notice they were shown. ``consent`` is the state of the purpose and channel being checked, so
    the entry stays in force for every other one.
    """
    return entry.reason is SuppressionReason.OBJECTED and _own_grant_after(consent, entry.effective_at)


def _own_grant_after(consent: CurrentConsent | None, after: datetime) -> bool:
    """A grant by the person themselves (not an import), backed by the notice they were shown, given
    after ``after``."""
    return (
        consent is not None
        and consent.decision is Decision.GRANTED
        and consent.source in FROM_THE_PERSON
        and consent.notice_id is not None
        and consent.effective_at > after
    )


def may_contact(
    purpose: Purpose, channel: Channel | None, facts: Facts, at: datetime, org: OrgType = OrgType.CHARITY
) -> Answer:
    """Apply DESIGN §3 to ``facts`` as they stood at ``at``, for an organisation of type ``org``, then
    the rules for marketing calls: only a consent to calls lets a call through when the telephone
    preference services have not cleared it (live calls) or at all (automated calls)."""
    answer = _may_contact(purpose, channel, facts, at, org)
    if not answer.allowed or purpose.category is not Category.MARKETING:
        return answer
    specific = answer.reason is Reason.CONSENT_GRANTED and answer.basis is Basis.CONSENT
    if channel is Channel.AUTOMATED_CALL and not specific:
        return Answer(False, Reason.AUTOMATED_CALL_NEEDS_CONSENT, answer.basis, answer.evidence)
    if channel is Channel.PHONE and not specific:
        screening = facts.tps or Screening(listed=False, screened_on=None)
        evidence = {**(answer.evidence or {}), "tps_screened_on": screening.screened_on}
        if screening.listed:
            return Answer(False, Reason.TPS_LISTED, answer.basis, evidence)
        if screening.stale_at(at):
            return Answer(False, Reason.TPS_SCREENING_STALE, answer.basis, evidence)
    return answer


def _may_contact(
    purpose: Purpose, channel: Channel | None, facts: Facts, at: datetime, org: OrgType
) -> Answer:
    basis = purpose.basis_for(channel)
    in_force = [s for s in facts.suppressions if s.in_force_at(at) and s.channel in (None, channel)]

    if facts.restricted:
        return Answer(False, Reason.CONTACT_RESTRICTED, basis)
    if facts.erased:
        return Answer(False, Reason.PERSON_ERASED, basis)
    tombstones = [s for s in in_force if s.reason is SuppressionReason.ERASED]
    if tombstones:
        if not registered_again(purpose, facts, max(s.effective_at for s in tombstones)):
            return Answer(False, Reason.PERSON_ERASED, basis)
        in_force = [s for s in in_force if s.reason is not SuppressionReason.ERASED]
    bounced = next((s for s in in_force if s.reason is SuppressionReason.HARD_BOUNCE), None)
    if bounced:
        return Answer(False, Reason.CONTACT_INVALID, basis, _suppression_evidence(bounced))

    if purpose.category is Category.PUBLIC_TASK and org is not OrgType.PUBLIC_AUTHORITY:
        return Answer(False, Reason.PUBLIC_TASK_NOT_PUBLIC_AUTHORITY, basis)

    suppressed = next(
        (
            s
            for s in in_force
            if s.covers(channel, purpose.code, purpose.category) and not reopened(s, facts.consent)
        ),
        None,
    )
    if suppressed:
        return Answer(False, Reason.SUPPRESSED, basis, _suppression_evidence(suppressed))

    if purpose.category is Category.ADMINISTRATIVE:
        return Answer(True, Reason.ADMINISTRATIVE, basis)

    consent = facts.consent
    evidence = _consent_evidence(consent) if consent else None
    granted = consent is not None and consent.decision is Decision.GRANTED
    withdrawn = consent is not None and consent.decision is Decision.WITHDRAWN
    if basis in (Basis.LEGITIMATE_INTERESTS, Basis.PUBLIC_TASK):
        if withdrawn:
            return Answer(False, Reason.OBJECTED, basis, evidence)
        if basis is Basis.PUBLIC_TASK:
            return Answer(True, Reason.PUBLIC_TASK, basis, evidence)
        return Answer(True, Reason.LEGITIMATE_INTERESTS, basis, evidence)
    if withdrawn:
        return Answer(False, Reason.CONSENT_WITHDRAWN, basis, evidence)
    if not granted or consent is None:
        return Answer(False, Reason.NO_CONSENT, basis)
    if basis is Basis.SOFT_OPT_IN and consent.collection_context is not None:
        refusal = soft_opt_in_refusal(consent, org)
        if refusal is not None:
            return Answer(False, refusal, basis, evidence)
        return Answer(True, Reason.SOFT_OPT_IN, basis, evidence)
    return Answer(True, Reason.CONSENT_GRANTED, basis, evidence)


def registered_again(purpose: Purpose, facts: Facts, erased_at: datetime) -> bool:
    """Whether the person asked about is someone who came back after an erasure at their address, and
    may be contacted as they asked since (LEGAL #16): messages that are not marketing (administrative,
    public task) once they have granted anything themselves; marketing only where this purpose and
    channel is their own grant. An imported grant, or one dated before the erasure, is not a fresh one,
    so a re-imported address stays stopped."""
    if purpose.category is not Category.MARKETING:
        return facts.own_grant_at is not None and facts.own_grant_at > erased_at
    return _own_grant_after(facts.consent, erased_at)


def all_of(answers: Sequence[Answer]) -> Answer:
    """An address shared by several people (a household email) may be used only if every one allows it."""
    return next((answer for answer in answers if not answer.allowed), answers[0])


def _suppression_evidence(entry: Suppression) -> dict[str, Any]:
    return {
        "suppression_id": entry.id,
        "suppression_reason": entry.reason.value,
        "suppressed_since": entry.effective_at,
        "scope": entry.scope.value,
    }


def _consent_evidence(consent: CurrentConsent) -> dict[str, Any]:
    return {
        "event_id": consent.event_id,
        "decision": consent.decision.value,
        "effective_at": consent.effective_at,
        "notice_id": consent.notice_id,
        "source": consent.source.value,
    }
