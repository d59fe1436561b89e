"""Mailgun webhooks: ``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}``.

The signature is HMAC-SHA-256 under the webhook signing key over ``timestamp + token`` only, not over
the event, so a captured signature could be pasted onto another event. Hence the two further checks
Mailgun asks for: the timestamp must be recent, and a token is accepted once. The event id is
``event-data.id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consent_service.domain.feedback.facts import (
    Digest,
    Feedback,
    FeedbackFact,
    Provider,
    SignatureCheck,
    Unauthentic,
    epoch_time,
    event_id,
    json_document,
    json_object,
)
from consent_service.domain.suppressions import SuppressionReason

#: How old (or how far ahead of our clock) a signed timestamp may be.
TOLERANCE = timedelta(minutes=15)

#: A permanent failure is a hard bounce, except when Mailgun dropped the message because of an earlier
#: unsubscribe or complaint (that is what it was), or gave up after retrying temporary failures
#: (``old``: nothing says the address is invalid, and a hard bounce would block service messages too).
PERMANENT_FAILURE = {
    "suppress-unsubscribe": SuppressionReason.UNSUBSCRIBED,
    "suppress-complaint": SuppressionReason.COMPLAINT,
    "old": None,
}
SIMPLE = {"complained": SuppressionReason.COMPLAINT, "unsubscribed": SuppressionReason.UNSUBSCRIBED}


@dataclass(frozen=True, slots=True)
class MailgunDelivery:
    token: str
    feedback: Feedback


def _signature_block(document: Mapping[str, Any]) -> tuple[str, str, bytes, datetime]:
    """Timestamp (as signed), token, signature and signing time; anything amiss is unauthentic."""
    block = document.get("signature")
    if not isinstance(block, dict):
        raise Unauthentic("the signature block is missing")
    timestamp, token, signature = block.get("timestamp"), block.get("token"), block.get("signature")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if (
        not isinstance(timestamp, str)
        or not (timestamp.isascii() and timestamp.isdigit())
        or len(timestamp) > 12
    ):
        raise Unauthentic("the signature's timestamp is not seconds since the epoch")
    if not isinstance(token, str) or event_id(token) is None:
        raise Unauthentic("the token is missing or longer than any Mailgun sends")
    try:
        decoded = bytes.fromhex(signature) if isinstance(signature, str) else b""
    except ValueError as exc:
        raise Unauthentic("the signature is not hexadecimal") from exc
    signed_at = epoch_time(int(timestamp))
    if not decoded or signed_at is None:
        raise Unauthentic("the signature block is incomplete")
    return timestamp, token, decoded, signed_at


def reason_for(event: Mapping[str, Any]) -> SuppressionReason | None:
    name = event.get("event")
    if name == "failed":
        if event.get("severity") != "permanent":
            return None
        return PERMANENT_FAILURE.get(str(event.get("reason")), SuppressionReason.HARD_BOUNCE)
    return SIMPLE.get(name) if isinstance(name, str) else None


def read(body: bytes, check: SignatureCheck, now: datetime) -> MailgunDelivery:
    document = json_object(json_document(body), "body")
    timestamp, token, signature, signed_at = _signature_block(document)
    if not check.verify((timestamp + token).encode(), signature, Digest.SHA256):
        raise Unauthentic("the signature does not verify with the configured signing key")
    if abs(now.astimezone(UTC) - signed_at) > TOLERANCE:
        raise Unauthentic("the signature's timestamp is more than 15 minutes from now")
    event = json_object(document.get("event-data"), "event-data")
    return MailgunDelivery(token, _feedback(event))


def _feedback(event: Mapping[str, Any]) -> Feedback:
    key = event_id(event.get("id"))
    # Every verified event's id is remembered, acted on or not: a token reused with the id of an event
    # we saw is a retry; reused with a new id, it is a signature pasted onto another event.
    seen = (key,) if key else ()
    reason = reason_for(event)
    if reason is None:
        return Feedback(ignored=1, seen=seen)
    address = event.get("recipient")
    if not isinstance(address, str) or not address or key is None:
        return Feedback(unusable=1, seen=seen)
    fact = FeedbackFact(Provider.MAILGUN, key, address, reason, epoch_time(event.get("timestamp")))
    return Feedback((fact,), seen=seen)
