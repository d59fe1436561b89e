"""The SendGrid (Twilio) Event Webhook: a JSON array of events, signed as a whole.

The signature (header ``X-Twilio-Email-Event-Webhook-Signature``, base64 DER ECDSA P-256 with SHA-256)
covers the timestamp header followed by the raw body, so it is checked before the body is parsed.
Each event carries its own ``sg_event_id``, the de-duplication key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from consent_service.domain.errors import InvalidInput
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
)
from consent_service.domain.suppressions import SuppressionReason

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

#: What a ``dropped`` event's reason says about the address, matched case-insensitively.
DROPPED = (
    ("bounced address", SuppressionReason.HARD_BOUNCE),
    ("spam reporting address", SuppressionReason.COMPLAINT),
    ("unsubscribed address", SuppressionReason.UNSUBSCRIBED),
)
SIMPLE = {
    "spamreport": SuppressionReason.COMPLAINT,
    "unsubscribe": SuppressionReason.UNSUBSCRIBED,
    "group_unsubscribe": SuppressionReason.UNSUBSCRIBED,
}


def verify(body: bytes, signature: str | None, timestamp: str | None, check: SignatureCheck) -> None:
    if not signature or not timestamp:
        raise Unauthentic(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are both needed")
    try:
        decoded = base64.b64decode(signature, validate=True)
    except binascii.Error as exc:
        raise Unauthentic("the signature is not base64") from exc
    if not check.verify(timestamp.encode() + body, decoded, Digest.SHA256):
        raise Unauthentic("the signature does not verify with the configured public key")


def reason_for(event: Mapping[str, Any]) -> SuppressionReason | None:
    """None for events that say nothing about consent (deliveries, opens, blocks, other drops).

    A ``bounce`` is a hard bounce unless its ``type`` says ``blocked`` (a block is about the sender,
    not the address); SendGrid's own sample payload of a bounce carries no ``type`` at all.
    """
    name = event.get("event")
    if name == "bounce":
        kind = event.get("type", "bounce")
        return SuppressionReason.HARD_BOUNCE if kind == "bounce" else None
    if name == "dropped":
        said = str(event.get("reason", "")).casefold()
        return next((reason for phrase, reason in DROPPED if phrase in said), None)
    return SIMPLE.get(name) if isinstance(name, str) else None


def read(body: bytes, signature: str | None, timestamp: str | None, check: SignatureCheck) -> Feedback:
    verify(body, signature, timestamp, check)
    events = json_document(body)
    if not isinstance(events, list):
        raise InvalidInput.one("body", "expected a JSON array of events")
    facts: list[FeedbackFact] = []
    ignored = unusable = 0
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidInput.one(f"[{index}]", "expected a JSON object")
        reason = reason_for(event)
        if reason is None:
            ignored += 1
            continue
        address, key = event.get("email"), event_id(event.get("sg_event_id"))
        if not isinstance(address, str) or not address or key is None:
            unusable += 1
            continue
        facts.append(
            FeedbackFact(Provider.SENDGRID, key, address, reason, epoch_time(event.get("timestamp")))
        )
    return Feedback(tuple(facts), ignored=ignored, unusable=unusable)
