"""What a mail provider's feedback comes down to: this event says this address bounced, complained or
unsubscribed. Shared by the providers' readers (``ses``, ``sendgrid``, ``mailgun``, ``notify``).

The readers are pure: they parse bodies and build the bytes a provider signed, and leave the
cryptography to a ``SignatureCheck`` the composition root builds from configured keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from consent_service.domain.channels import Channel
from consent_service.domain.errors import DomainError, InvalidInput
from consent_service.domain.suppressions import SuppressionReason

#: Longest event id (and Mailgun token) kept for de-duplication; providers' ids are far shorter.
MAX_EVENT_ID = 200


class Provider(StrEnum):
    SES = "ses"
    SENDGRID = "sendgrid"
    MAILGUN = "mailgun"
    NOTIFY = "notify"


class Digest(StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"


class SignatureCheck(Protocol):
    """Whether ``signature`` over ``payload`` was made with the key this service was configured with."""

    def verify(self, payload: bytes, signature: bytes, digest: Digest) -> bool: ...


@dataclass(frozen=True, slots=True)
class ProviderKeys:
    """The configured checks; a provider without one is not configured and its endpoint answers 404."""

    ses: SignatureCheck | None = None
    ses_topics: frozenset[str] = frozenset()
    sendgrid: SignatureCheck | None = None
    mailgun: SignatureCheck | None = None
    #: GOV.UK Notify does not sign: it sends back the bearer token set in its callback settings.
    notify_token: str | None = None


class Unauthentic(DomainError):
    """Not signed by the configured key, for a topic we do not take, stale, or a replayed token."""

    title = "Signature refused"


class Malformed(DomainError):
    """The body is not JSON at all; nothing was recorded."""

    title = "Malformed notification"


@dataclass(frozen=True, slots=True)
class FeedbackFact:
    """One address (or, from Notify, a mobile number) the provider reports; several facts may share an
    event id (an SES bounce to many)."""

    provider: Provider
    event_id: str
    to: str
    reason: SuppressionReason
    occurred_at: datetime | None = None
    channel: Channel = Channel.EMAIL


@dataclass(frozen=True, slots=True)
class Feedback:
    """A verified delivery: the facts to act on, and how many events said nothing about consent.

    ``unusable`` counts events that should have been acted on but lack an address or an id.
    ``seen`` holds event ids to remember even though they lead to no fact (Mailgun, see there).
    """

    facts: tuple[FeedbackFact, ...] = ()
    ignored: int = 0
    unusable: int = 0
    seen: tuple[str, ...] = ()


def json_document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Malformed("the body is not a JSON document") from exc


def json_object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput.one(field, "expected a JSON object")
    return value


def text(data: Mapping[str, Any], key: str, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput.one(f"{field}.{key}" if field else key, "expected a non-empty string")
    return value


def optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def event_id(value: Any) -> str | None:
    """A usable event id, or None: de-duplication needs one of bounded length."""
    return value if isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID else None


def iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else None
    except (ValueError, OverflowError):
        return None


def epoch_time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
