"""The suppression list: fingerprints of contact points that must not be marketed to (DESIGN §2).

An entry holds no plaintext contact detail, so it outlives the person's erasure. It can be lifted,
and the lifting is kept on the entry; ``at=`` answers see an entry only while it was in force.

An entry holds no free text either (UK GDPR Art 5(1)(c); docs/COMPLIANCE.md row 15): why it was added,
how the request reached staff and why it was lifted are each a code from a closed set, so nothing
typed in a hurry (a name, an address, what the caller said) can sit on the list for ever.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from consent_service.domain.channels import Channel
from consent_service.domain.ledger import FROM_THE_PERSON, ConsentEvent, Decision, Source
from consent_service.domain.purposes import Basis, Category
from consent_service.domain.tokens import FAMILY


class SuppressionScope(StrEnum):
    MARKETING = "marketing"
    ALL = "all"


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    STAFF_REQUEST = "staff_request"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    ERASED = "erased"
    IMPORTED = "imported"
    #: A Fundraising Preference Service request (LEGAL #19).
    FPS = "fps"


class SuppressionHow(StrEnum):
    """How a request staff put on the list reached them: the ways a family asks staff, as the
    ledger's sources name them (``domain/ledger.py: Source``), and no free text."""

    PHONE_CALL = "phone_call"
    LETTER = "letter"
    EMAIL = "email"
    IN_PERSON = "in_person"
    PAPER_FORM = "paper_form"
    WEB_FORM = "web_form"


class LiftReason(StrEnum):
    """Why an entry was lifted. Staff give one of ``STAFF_LIFT_REASONS``; the service gives the rest."""

    #: A bounced address or number confirmed working (by the family, on the phone or in person).
    CONFIRMED_WORKING = "confirmed_working"
    #: The entry was added by mistake (the wrong address, the wrong person).
    ADDED_IN_ERROR = "added_in_error"
    #: The person's own new grant, with its notice, lifted it (``lifted_by_grant``).
    REGRANTED = "regranted"
    #: Lifted before reasons were codes: the text then typed was dropped (migration 0016).
    RECORDED_BEFORE_CODES = "recorded_before_codes"


#: The reasons a staff member (or a key) may give for lifting an entry.
STAFF_LIFT_REASONS = (LiftReason.CONFIRMED_WORKING, LiftReason.ADDED_IN_ERROR)


#: No key or staff member lifts these: an objection to direct marketing is absolute (UK GDPR
#: Art 21(3)); only the person's own grant re-opens it, one purpose and channel at a time.
NEVER_LIFTED_BY_STAFF = frozenset({SuppressionReason.OBJECTED})

#: A grant never lifts these: a bounced address must be confirmed working by staff, and an erased
#: person's tombstone stays for good (someone who registers again is let through it by the decision,
#: ``domain/decision.py: registered_again``, never by lifting it, so a re-import stays stopped).
NOT_LIFTED_BY_A_GRANT = frozenset({SuppressionReason.HARD_BOUNCE, SuppressionReason.ERASED})


@dataclass(frozen=True, slots=True)
class Suppression:
    """``channel`` None means every channel; ``purpose`` None means every purpose in the scope."""

    id: str
    fingerprint: str
    channel: Channel | None
    scope: SuppressionScope
    reason: SuppressionReason
    purpose: str | None
    source: str
    actor: str
    effective_at: datetime
    recorded_at: datetime
    #: For an entry staff add directly: how the request reached them; None where ``source`` says it.
    how: SuppressionHow | None = None
    lifted_at: datetime | None = None
    lift_reason: LiftReason | None = None
    lifted_by: str | None = None
    #: What the request lacked (``domain/evidence.py: Gap`` values): an opt-out is added anyway, widened
    #: where a name did not resolve (DESIGN §4.1).
    evidence_gaps: tuple[str, ...] = ()

    def in_force_at(self, at: datetime) -> bool:
        return self.effective_at <= at and (self.lifted_at is None or self.lifted_at > at)

    def covers(self, channel: Channel | None, purpose: str, category: Category) -> bool:
        """Whether this entry applies to a message of ``purpose`` (of ``category``) on ``channel``."""
        if self.channel is not None and self.channel != channel:
            return False
        if self.scope is SuppressionScope.MARKETING and category is not Category.MARKETING:
            return False
        return self.purpose is None or self.purpose == purpose


def unsubscribed(
    entry_id: str,
    fingerprint: str,
    channel: Channel,
    purpose: str,
    effective_at: datetime,
    recorded_at: datetime,
) -> Suppression:
    """The entry a family's unsubscribe link adds: marketing of one purpose on one channel."""
    return Suppression(
        id=entry_id,
        fingerprint=fingerprint,
        channel=channel,
        scope=SuppressionScope.MARKETING,
        reason=SuppressionReason.UNSUBSCRIBED,
        purpose=purpose,
        source=Source.UNSUBSCRIBE_LINK.value,
        actor=FAMILY,
        effective_at=effective_at,
        recorded_at=recorded_at,
    )


#: The note on each consent event recorded when a family stops all marketing in one step (the
#: suppression entries say it by their reason, ``objected``).
OBJECTION_NOTE = "objected to all direct marketing (UK GDPR Art 21(2))"


def objected(entry_id: str, fingerprint: str, channel: Channel, at: datetime) -> Suppression:
    """An objection to all direct marketing on one channel of an address, by fingerprint alone, from
    the preferences page: how an address the service holds nobody for is opted out. Per channel, not
    every channel at once, so that the family's own later grant on a channel still lifts it
    (``lifted_by_grant``); every purpose, so that it covers purposes added later."""
    return replace(
        unsubscribed(entry_id, fingerprint, channel, "", at, at),
        reason=SuppressionReason.OBJECTED,
        purpose=None,
        source=Source.PREFERENCE_CENTRE.value,
    )


def reason_for_withdrawal(basis: Basis, source: Source, objection: bool = False) -> SuppressionReason:
    """An unsubscribe link is named as such; objecting to legitimate interests is recorded as an
    objection; opting out of consent or a soft opt-in is a withdrawal. A family who objects to all
    direct marketing at once (UK GDPR Art 21(2)) has objected, whatever each channel's basis was."""
    if objection:
        return SuppressionReason.OBJECTED
    if source is Source.UNSUBSCRIBE_LINK:
        return SuppressionReason.UNSUBSCRIBED
    objected = basis in (Basis.LEGITIMATE_INTERESTS, Basis.PUBLIC_TASK)
    return SuppressionReason.OBJECTED if objected else SuppressionReason.WITHDRAWN


def lifted_by_grant(entry: Suppression, grant: ConsentEvent) -> bool:
    """A re-grant by the person themselves, after the entry and with its notice, lifts it for that channel."""
    return (
        grant.decision is Decision.GRANTED
        and grant.source in FROM_THE_PERSON
        and grant.notice_id is not None
        and grant.channel is not None
        and entry.lifted_at is None
        and entry.channel == grant.channel
        and entry.scope is SuppressionScope.MARKETING
        and entry.purpose in (None, grant.purpose)
        # An objection is re-opened one purpose and channel at a time (``decision.reopened``), so only
        # an objection to exactly what is granted is lifted; a wider one stays for everything else.
        and (entry.reason is not SuppressionReason.OBJECTED or entry.purpose == grant.purpose)
        and entry.reason not in NOT_LIFTED_BY_A_GRANT
        and grant.effective_at > entry.effective_at
    )
