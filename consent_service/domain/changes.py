"""Change events: what other systems are told when a choice, a suppression or a person changes.

Every change is written to the outbox in the same transaction as the change itself, so a change is
announced if and only if it was committed. Consumers get each event at least once and de-duplicate
by its ``id``. Events carry ids and fingerprints, never contact details: a mailing tool that holds
the address can fingerprint-match through a check, and a consumer that should not hold it never sees
it. An event about a person also carries the ``reference`` the caller gave that person (its case
system's id, or None), so a case system can match the event to its own record without a lookup.

Which change a write announces is the use case's to say, not the repository's: it builds the change
with one of the functions here and emits it through its unit of work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from consent_service.domain.ledger import ConsentEvent
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.restrictions import Restriction
from consent_service.domain.suppressions import LiftReason, Suppression


class ChangeType(StrEnum):
    CONSENT_RECORDED = "consent.recorded"
    SUPPRESSION_ADDED = "suppression.added"
    SUPPRESSION_LIFTED = "suppression.lifted"
    #: Someone tried to lift an objection, which no one but the person can undo: the refused attempt,
    #: kept in the feed as its audit (who, when, the reason they gave).
    SUPPRESSION_LIFT_REFUSED = "suppression.lift_refused"
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
    return Change(ChangeType.PERSON_CREATED, person.created_at, _about(person.id, person.reference))


def person_updated(person: Person, at: datetime) -> Change:
    """Carries the reference as it now stands (a rectification may have changed it)."""
    return Change(ChangeType.PERSON_UPDATED, at, _about(person.id, person.reference))


def person_erased(person: Person, at: datetime) -> Change:
    """Carries the reference held until the erasure, so the case system can find whom to erase too."""
    return Change(ChangeType.PERSON_ERASED, at, _about(person.id, person.reference))


def contact_added(contact: RecordedContact, reference: str | None) -> Change:
    data = _about(contact.person_id, reference) | {
        "kind": contact.kind.value,
        "fingerprint": contact.fingerprint,
    }
    return Change(ChangeType.CONTACT_ADDED, contact.created_at, data)


def consent_recorded(event: ConsentEvent, reference: str | None) -> Change:
    """Announced when recorded, whether or not it changed the current choice (a late, older one)."""
    return Change(
        ChangeType.CONSENT_RECORDED,
        event.recorded_at,
        {
            "event_id": event.id,
            "person_id": event.person_id,
            "reference": reference,
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


def suppression_lifted(entry: Suppression, at: datetime) -> Change:
    """Names the address it re-opens (as ``suppression.added`` does), so that only the answers about
    that address are dropped, not every answer kept (``invalidation.touched``)."""
    return Change(
        ChangeType.SUPPRESSION_LIFTED,
        at,
        {
            "suppression_id": entry.id,
            "fingerprint": entry.fingerprint,
            "channel": entry.channel.value if entry.channel else "all",
        },
    )


def suppression_lift_refused(entry: Suppression, actor: str, reason: LiftReason, at: datetime) -> Change:
    return Change(
        ChangeType.SUPPRESSION_LIFT_REFUSED,
        at,
        {
            "suppression_id": entry.id,
            "fingerprint": entry.fingerprint,
            "suppression_reason": entry.reason.value,
            "actor": actor,
            "reason": reason.value,
        },
    )


def restriction_added(restriction: Restriction, reference: str | None) -> Change:
    return Change(
        ChangeType.RESTRICTION_ADDED,
        restriction.created_at,
        {
            "restriction_id": restriction.id,
            **_about(restriction.person_id, reference),
            "fingerprint": restriction.fingerprint,
            "channel": restriction.channel.value if restriction.channel else "all",
        },
    )


def restriction_lifted(restriction: Restriction, reference: str | None, at: datetime) -> Change:
    return Change(
        ChangeType.RESTRICTION_LIFTED,
        at,
        {"restriction_id": restriction.id, **_about(restriction.person_id, reference)},
    )


def _about(person_id: str, reference: str | None) -> dict[str, Any]:
    """Who an event is about: our id, and the caller's own reference for them (None if none given)."""
    return {"person_id": person_id, "reference": reference}


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
    #: The last position of the batch being sent (pinned before its first try): a retry sends that
    #: batch again, unchanged, under the same ``webhook-id``, however many changes came meanwhile.
    pending_through: int | None = None


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


#: How a webhook's secret is shown (Standard Webhooks): this prefix, then the key in base64.
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A fresh webhook secret, as receivers give it to their Standard Webhooks library."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: the base64 after ``whsec_``, decoded as the receivers'
    libraries decode it. A secret made before the prefix was used (64 hex digits, themselves valid
    base64) is read the same way, so its receivers only change how they verify, not their secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def message_id(events: Sequence[Mapping[str, Any]]) -> str:
    """A delivery's ``webhook-id``, made from the ids of the events it carries: every retry of a batch
    has the same one (receivers de-duplicate on it), and a different batch never does, even from
    another database whose feed positions started again at 1."""
    digest = hashlib.sha256("\n".join(str(event["id"]) for event in events).encode()).hexdigest()
    return f"msg_{digest[:32]}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers: ``webhook-signature`` is ``v1,`` and the base64 HMAC-SHA-256 of
    ``"{id}.{timestamp}." + body`` under the secret's key.

    Written here rather than taken from the ``standardwebhooks`` package because it is one HMAC and
    the service should not depend on a receiver's library to send; the tests verify deliveries with
    that package, so the two cannot drift apart unnoticed.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
