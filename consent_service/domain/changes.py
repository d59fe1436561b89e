"""Change events: what other systems are told when a choice, a suppression or a person changes.

Every change is written to the outbox in the same transaction as the change itself, so a change is
announced if and only if it was committed. Consumers get each event at least once and de-duplicate
by its ``id``. Events carry ids and fingerprints, never contact details: a mailing tool that holds
the address can fingerprint-match through a check, and a consumer that should not hold it never sees
it.

Which change a write announces is the use case's to say, not the repository's: it builds the change
with one of the functions here and emits it through its unit of work.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from consent_service.domain.ledger import ConsentEvent
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.restrictions import Restriction
from consent_service.domain.suppressions import Suppression


class ChangeType(StrEnum):
    CONSENT_RECORDED = "consent.recorded"
    SUPPRESSION_ADDED = "suppression.added"
    SUPPRESSION_LIFTED = "suppression.lifted"
    RESTRICTION_ADDED = "restriction.added"
    RESTRICTION_LIFTED = "restriction.lifted"
    PERSON_CREATED = "person.created"
    PERSON_UPDATED = "person.updated"
    CONTACT_ADDED = "contact.added"
    PERSON_ERASED = "person.erased"


@dataclass(frozen=True, slots=True)
class Change:
    type: ChangeType
    occurred_at: datetime
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def is_opt_out(self) -> bool:
        """A withdrawal of a choice, or an address put on the suppression list."""
        if self.type is ChangeType.CONSENT_RECORDED:
            return bool(self.data.get("decision") == "withdrawn")
        return self.type is ChangeType.SUPPRESSION_ADDED


def person_created(person: Person) -> Change:
    return Change(ChangeType.PERSON_CREATED, person.created_at, {"person_id": person.id})


def person_updated(person: Person, at: datetime) -> Change:
    return Change(ChangeType.PERSON_UPDATED, at, {"person_id": person.id})


def person_erased(person_id: str, at: datetime) -> Change:
    return Change(ChangeType.PERSON_ERASED, at, {"person_id": person_id})


def contact_added(contact: RecordedContact) -> Change:
    data = {"person_id": contact.person_id, "kind": contact.kind.value, "fingerprint": contact.fingerprint}
    return Change(ChangeType.CONTACT_ADDED, contact.created_at, data)


def consent_recorded(event: ConsentEvent) -> Change:
    """Announced when recorded, whether or not it changed the current choice (a late, older one)."""
    return Change(
        ChangeType.CONSENT_RECORDED,
        event.recorded_at,
        {
            "event_id": event.id,
            "person_id": event.person_id,
            "purpose": event.purpose,
            "channel": event.channel.value if event.channel else None,
            "decision": event.decision.value,
            "effective_at": _iso(event.effective_at),
            "source": event.source.value,
            "notice_id": event.notice_id,
        },
    )


def suppression_added(entry: Suppression) -> Change:
    return Change(
        ChangeType.SUPPRESSION_ADDED,
        entry.recorded_at,
        {
            "suppression_id": entry.id,
            "fingerprint": entry.fingerprint,
            "channel": entry.channel.value if entry.channel else "all",
            "scope": entry.scope.value,
            "reason": entry.reason.value,
            "purpose": entry.purpose,
            "effective_at": _iso(entry.effective_at),
        },
    )


def suppression_lifted(entry_id: str, at: datetime) -> Change:
    return Change(ChangeType.SUPPRESSION_LIFTED, at, {"suppression_id": entry_id})


def restriction_added(restriction: Restriction) -> Change:
    return Change(
        ChangeType.RESTRICTION_ADDED,
        restriction.created_at,
        {
            "restriction_id": restriction.id,
            "person_id": restriction.person_id,
            "fingerprint": restriction.fingerprint,
            "channel": restriction.channel.value if restriction.channel else "all",
        },
    )


def restriction_lifted(restriction_id: str, at: datetime) -> Change:
    return Change(ChangeType.RESTRICTION_LIFTED, at, {"restriction_id": restriction_id})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class PublishedChange:
    """A change as the feed serves it: with its place in the feed, which only grows."""

    position: int
    change: Change

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "id": self.change.id,
            "type": self.change.type.value,
            "occurred_at": self.change.occurred_at.isoformat().replace("+00:00", "Z"),
            "data": self.change.data,
        }


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    secret: str
    created_at: datetime
    disabled_at: datetime | None = None
    #: the last feed position delivered or dead-lettered
    position: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    webhook_id: str
    position: int
    event: dict[str, Any]
    attempts: int
    last_error: str
    failed_at: datetime
    replayed_at: datetime | None = None


def retry_delay(attempts: int, base: float, ceiling: float) -> float:
    """Seconds to wait before the next try after ``attempts`` failures: doubling, capped."""
    return float(min(ceiling, base * 2 ** max(0, attempts - 1)))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Consent-Signature`` header: HMAC-SHA-256 over ``"{timestamp}." + body``, Stripe's scheme.

    Signing the timestamp with the body lets a receiver refuse an old delivery replayed at it.
    """
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is within ``tolerance`` seconds."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
