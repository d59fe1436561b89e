"""GOV.UK Notify delivery receipts: one JSON object per email or text message, POSTed to our callback.

Notify does not sign its callbacks. It sends the bearer token the service team typed into Notify's
callback settings (``Authorization: Bearer <token>``), so that token is the authentication, compared
in constant time with ``CONSENT_NOTIFY_CALLBACK_TOKEN``. A receipt names the notification (``id``,
which is also how a repeat is recognised), the address or number it went ``to``, its
``notification_type`` (``email``, ``sms`` or ``letter``) and its final ``status``:

- ``permanent-failure``: the provider could not deliver and never will (no such address or number):
  a hard bounce on that address or number;
- ``delivered``, ``temporary-failure`` (the inbox was full or the phone off; Notify gave up retrying)
  and ``technical-failure`` (a fault in Notify): nothing about the address; counted, not acted on.

Notify also forwards the text messages people send to the service's number (its received text
messages callback, the same bearer token): one that begins with a STOP word is an opt-out from
marketing texts to that number (``read_received``, LEGAL #4).

Fields Notify may add later are let through: the receipt is Notify's to shape, not ours.
"""

from __future__ import annotations

import hmac
import string
from collections.abc import Mapping
from typing import Any

from consent_service.domain.channels import Channel
from consent_service.domain.errors import FieldError, InvalidInput
from consent_service.domain.feedback.facts import (
    MAX_EVENT_ID,
    Feedback,
    FeedbackFact,
    Provider,
    Unauthentic,
    iso_time,
    json_document,
    json_object,
)
from consent_service.domain.suppressions import SuppressionReason

#: The one status that says the address is bad. Any other is counted and left: Notify sends
#: ``delivered``, ``temporary-failure`` and ``technical-failure`` today, and may name more later.
PERMANENT_FAILURE = "permanent-failure"
#: What each type of notification was sent to; letters are not looked at (nothing to suppress by).
CHANNELS = {"email": Channel.EMAIL, "sms": Channel.SMS}
TYPES = (*CHANNELS, "letter")
#: Longest ``to`` taken: an email address is at most 254 characters, a phone number far fewer.
MAX_TO = 320


def authenticate(authorization: str | None, token: str) -> None:
    """Raises ``Unauthentic`` unless the request carries ``Authorization: Bearer <token>``."""
    scheme, _, presented = (authorization or "").partition(" ")
    # compare_digest on bytes: it refuses non-ASCII text, and a header may carry any Latin-1.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode("utf-8", "surrogateescape"), token.encode()
    ):
        raise Unauthentic("the callback's bearer token is not the one configured for GOV.UK Notify")


def read(body: bytes) -> Feedback:
    """The receipt's fact, if it is a permanent failure of an email or a text message. Every field
    that is not what Notify sends is named in one ``InvalidInput``; nothing is then recorded."""
    receipt = json_object(json_document(body), "body")
    errors: list[FieldError] = []
    key = _text(receipt, "id", MAX_EVENT_ID, errors)
    status = _text(receipt, "status", 40, errors)
    kind = receipt.get("notification_type")
    if kind not in TYPES:
        errors.append(FieldError("notification_type", f"expected one of {', '.join(TYPES)}"))
    to = _text(receipt, "to", MAX_TO, errors)
    reference = receipt.get("reference")
    if reference is not None and not isinstance(reference, str):
        errors.append(FieldError("reference", "expected a string or null"))
    for name in ("created_at", "completed_at", "sent_at"):
        value = receipt.get(name)
        if value is not None and iso_time(value) is None:
            errors.append(FieldError(name, "expected a date-time with its offset, or null"))
    if errors:
        raise InvalidInput(errors, detail="Not a GOV.UK Notify delivery receipt.")
    seen = (key,)
    channel = CHANNELS.get(str(kind))
    if status != PERMANENT_FAILURE or channel is None:
        return Feedback(ignored=1, seen=seen)
    occurred_at = iso_time(receipt.get("completed_at")) or iso_time(receipt.get("sent_at"))
    fact = FeedbackFact(Provider.NOTIFY, key, to, SuppressionReason.HARD_BOUNCE, occurred_at, channel)
    return Feedback((fact,), seen=seen)


def _text(receipt: Mapping[str, Any], name: str, longest: int, errors: list[FieldError]) -> str:
    """The field's text; or, with an error added, an empty string that is never used."""
    value = receipt.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        errors.append(FieldError(name, f"expected a non-empty string of at most {longest} characters"))
        return ""
    return value


#: The words that opt out when a text message begins with one (case-insensitive): the mobile
#: industry's STOP words (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT), and Welsh ``STOPIO`` and
#: ``DIM`` ("none"), since a Welsh organisation's families may answer in Welsh.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPIO", "DIM"})
#: Longest text taken: a concatenated text message is at most a few thousand characters.
MAX_MESSAGE = 5000


def is_stop(message: str) -> bool:
    """Whether a received text message opts out: its first word, without the punctuation around it
    (``Stop.``, ``"STOP"``), is one of ``STOP_WORDS``; ``Stopping by`` and ``12 STOP`` are not."""
    words = message.split(maxsplit=1)
    return bool(words) and words[0].strip(string.punctuation).upper() in STOP_WORDS


def read_received(body: bytes) -> Feedback:
    """A received text message (Notify's inbound callback: ``id``, ``source_number``,
    ``destination_number``, ``message``, ``date_received``): a STOP word becomes an ``unsubscribed``
    fact on the sender's number; any other message is counted and changes nothing.

    Only what is needed to act is required (the id, the sender's number and the text): an opt-out is
    never refused for its paperwork, so a missing or unreadable ``destination_number`` or
    ``date_received`` does not lose it (the time it was recorded stands in for an unreadable one).
    """
    received = json_object(json_document(body), "body")
    errors: list[FieldError] = []
    key = _text(received, "id", MAX_EVENT_ID, errors)
    number = _text(received, "source_number", MAX_TO, errors)
    message = received.get("message")
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        errors.append(FieldError("message", f"expected a string of at most {MAX_MESSAGE} characters"))
    if errors:
        raise InvalidInput(errors, detail="Not a GOV.UK Notify received text message.")
    if not is_stop(str(message)):
        return Feedback(ignored=1)
    occurred_at = iso_time(received.get("date_received"))
    fact = FeedbackFact(
        Provider.NOTIFY, key, number, SuppressionReason.UNSUBSCRIBED, occurred_at, Channel.SMS
    )
    return Feedback((fact,))
