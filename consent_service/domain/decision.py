"""The decision: may we contact this person, on this channel, for this purpose? (DESIGN §3)

One pure function over the facts the store found. The order of the rules is the order of the
design's table: hard stops first, then the suppression list, then the legal basis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from consent_service.domain.channels import Channel
from consent_service.domain.ledger import FROM_THE_PERSON, CurrentConsent, Decision
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.suppressions import Suppression, SuppressionReason


class Reason(StrEnum):
    CONSENT_GRANTED = "consent_granted"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OBJECTED = "objected"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    SOFT_OPT_IN = "soft_opt_in"
    SUPPRESSED = "suppressed"
    ADMINISTRATIVE = "administrative"
    CONTACT_RESTRICTED = "contact_restricted"
    CONTACT_INVALID = "contact_invalid"
    PERSON_ERASED = "person_erased"
    STORE_UNAVAILABLE = "store_unavailable"


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


@dataclass(frozen=True, slots=True)
class Answer:
    allowed: bool
    reason: Reason
    basis: Basis | None = None
    evidence: Mapping[str, Any] | None = None
    degraded: bool = False


def may_contact(purpose: Purpose, channel: Channel | None, facts: Facts, at: datetime) -> Answer:
    """Apply DESIGN §3 to ``facts`` as they stood at ``at``."""
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

    suppressed = next((s for s in in_force if s.covers(channel, purpose.code, purpose.category)), None)
    if suppressed:
        return Answer(False, Reason.SUPPRESSED, basis, _suppression_evidence(suppressed))

    if purpose.category is Category.ADMINISTRATIVE:
        return Answer(True, Reason.ADMINISTRATIVE, basis)

    consent = facts.consent
    evidence = _consent_evidence(consent) if consent else None
    granted = consent is not None and consent.decision is Decision.GRANTED
    withdrawn = consent is not None and consent.decision is Decision.WITHDRAWN
    if basis is Basis.LEGITIMATE_INTERESTS:
        if withdrawn:
            return Answer(False, Reason.OBJECTED, basis, evidence)
        return Answer(True, Reason.LEGITIMATE_INTERESTS, basis, evidence)
    if withdrawn:
        return Answer(False, Reason.CONSENT_WITHDRAWN, basis, evidence)
    if not granted or consent is None:
        return Answer(False, Reason.NO_CONSENT, basis)
    if basis is Basis.SOFT_OPT_IN and consent.collection_context is not None:
        return Answer(True, Reason.SOFT_OPT_IN, basis, evidence)
    return Answer(True, Reason.CONSENT_GRANTED, basis, evidence)


def registered_again(purpose: Purpose, facts: Facts, erased_at: datetime) -> bool:
    """Whether the person asked about is someone who came back after an erasure at their address, and
    may be contacted as they asked since (LEGAL #16): administrative messages once they have granted
    anything themselves; marketing only where this purpose and channel is their own grant. An imported
    grant, or one dated before the erasure, is not a fresh one, so a re-imported address stays stopped."""
    if purpose.category is Category.ADMINISTRATIVE:
        return facts.own_grant_at is not None and facts.own_grant_at > erased_at
    consent = facts.consent
    return (
        consent is not None
        and consent.decision is Decision.GRANTED
        and consent.source in FROM_THE_PERSON
        and consent.effective_at > erased_at
    )


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
