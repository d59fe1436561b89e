"""Amazon SES bounce and complaint notifications, delivered by SNS to an HTTP endpoint.

SNS posts a JSON envelope (``Type``, ``MessageId``, ``TopicArn``, ``Message``, ``Signature`` …) whose
``Message`` is the SES notification as a JSON string. The envelope is signed with RSA over a canonical
string of some of its fields (SignatureVersion 1: SHA-1, 2: SHA-256). The signing certificate is the
one configured, never the one ``SigningCertURL`` points at, and the topic must be one we subscribed.

The event id is the SNS ``MessageId``, which SNS keeps when it retries a delivery.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from consent_service.domain.errors import InvalidInput
from consent_service.domain.feedback.facts import (
    Digest,
    Feedback,
    FeedbackFact,
    Provider,
    SignatureCheck,
    Unauthentic,
    event_id,
    iso_time,
    json_document,
    json_object,
    optional_text,
    text,
)
from consent_service.domain.suppressions import SuppressionReason


class MessageType(StrEnum):
    NOTIFICATION = "Notification"
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


#: The fields each message type signs, in the order SNS documents (Subject only when present).
SIGNED_FIELDS = {
    MessageType.NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    MessageType.SUBSCRIPTION_CONFIRMATION: (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS[MessageType.UNSUBSCRIBE_CONFIRMATION] = SIGNED_FIELDS[MessageType.SUBSCRIPTION_CONFIRMATION]

DIGESTS = {"1": Digest.SHA1, "2": Digest.SHA256}


@dataclass(frozen=True, slots=True)
class SnsMessage:
    type: MessageType
    message_id: str
    topic_arn: str
    message: str
    fields: Mapping[str, Any]

    @property
    def subscribe_url(self) -> str | None:
        return optional_text(self.fields, "SubscribeURL")


def string_to_sign(envelope: Mapping[str, Any], kind: MessageType) -> bytes:
    """``Name\\nvalue\\n`` for each signed field present, as SNS builds it."""
    lines: list[str] = []
    for name in SIGNED_FIELDS[kind]:
        value = envelope.get(name)
        if name == "Subject" and not isinstance(value, str):
            continue
        if not isinstance(value, str):
            raise InvalidInput.one(name, "expected a string")
        lines += [name, value]
    return ("\n".join(lines) + "\n").encode()


def read(body: bytes, check: SignatureCheck, topics: frozenset[str]) -> SnsMessage:
    """The envelope, once its topic is one of ``topics`` and its signature verifies."""
    envelope = json_object(json_document(body), "body")
    try:
        kind = MessageType(text(envelope, "Type", ""))
    except ValueError as exc:
        raise InvalidInput.one("Type", f"not a message type SNS sends: {envelope.get('Type')!r}") from exc
    topic = text(envelope, "TopicArn", "")
    message_id = event_id(envelope.get("MessageId"))
    if message_id is None:
        raise InvalidInput.one("MessageId", "expected an id of at most 200 characters")
    signed = string_to_sign(envelope, kind)
    if topic not in topics:
        raise Unauthentic("the notification is for a topic this service does not take")
    digest = DIGESTS.get(str(envelope.get("SignatureVersion")))
    if digest is None:
        raise Unauthentic("unknown SignatureVersion")
    try:
        signature = base64.b64decode(text(envelope, "Signature", ""), validate=True)
    except (binascii.Error, InvalidInput) as exc:
        raise Unauthentic("the signature is missing or not base64") from exc
    if not check.verify(signed, signature, digest):
        raise Unauthentic("the signature does not verify with the configured certificate")
    return SnsMessage(kind, message_id, topic, text(envelope, "Message", ""), envelope)


def feedback(message: SnsMessage) -> Feedback:
    """The suppressions an SES notification asks for: permanent bounces and complaints."""
    if message.type is not MessageType.NOTIFICATION:
        return Feedback(ignored=1)
    ses = json_object(json_document(message.message.encode()), "Message")
    # Notifications say notificationType; event publishing through SNS says eventType.
    kind = ses.get("notificationType", ses.get("eventType"))
    if kind == "Bounce":
        detail = json_object(ses.get("bounce"), "Message.bounce")
        key, reason = "bouncedRecipients", SuppressionReason.HARD_BOUNCE
        if detail.get("bounceType") != "Permanent":
            return Feedback(ignored=1)
    elif kind == "Complaint":
        detail = json_object(ses.get("complaint"), "Message.complaint")
        key, reason = "complainedRecipients", SuppressionReason.COMPLAINT
    else:
        return Feedback(ignored=1)
    recipients = detail.get(key)
    if not isinstance(recipients, list) or not recipients:
        return Feedback(unusable=1)
    occurred_at = iso_time(detail.get("timestamp")) or iso_time(message.fields.get("Timestamp"))
    facts: list[FeedbackFact] = []
    unusable = 0
    for recipient in recipients:
        address = recipient.get("emailAddress") if isinstance(recipient, dict) else None
        if isinstance(address, str) and address:
            facts.append(FeedbackFact(Provider.SES, message.message_id, address, reason, occurred_at))
        else:
            unusable += 1
    return Feedback(tuple(facts), unusable=unusable)
