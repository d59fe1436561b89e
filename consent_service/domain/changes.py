"""Change events: what other systems are told when a choice, a suppression or a person changes.

Every change is written to the outbox in the same transaction as the change itself, so a change is
announced if and only if it was committed. Consumers get each event at least once and de-duplicate
by its ``id``. Events carry ids and fingerprints, never contact details: a mailing tool that holds
the address can fingerprint-match through a check, and a consumer that should not hold it never sees
it.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


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
