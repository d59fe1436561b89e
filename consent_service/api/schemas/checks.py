"""May we contact them: one check, or many addresses for one purpose and channel at once."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from consent_service.api.schemas.common import Code, ContactValue, In, Out, Time, Uuid
from consent_service.api.schemas.links import UnsubscribeLinkOut
from consent_service.domain.channels import Channel
from consent_service.domain.decision import Reason
from consent_service.domain.purposes import Basis, Category


class StreamOut(Out, kw_only=True):
    """The mail stream the purpose's category is sent in (LEGAL #24): put ``from`` in the message's
    ``From`` and ``list_id`` in its ``List-Id`` header."""

    category: Category
    #: None when CONSENT_STREAM_<CATEGORY>_FROM is unset and the organisation has no email address.
    sender: str | None = msgspec.field(name="from")
    list_id: str


class CheckIn(In, kw_only=True, frozen=True):
    purpose: Code
    channel: Channel | None = None
    to: ContactValue | None = None
    person_id: Uuid | None = None
    at: Time | None = None
    #: With an allowed marketing email answer, the recipient's unsubscribe link and RFC 8058 headers.
    links: bool = False


class BulkCheckIn(In, kw_only=True, frozen=True):
    purpose: Code
    channel: Channel
    to: Annotated[list[ContactValue], Meta(min_length=1, max_length=10_000)]
    #: With each allowed marketing email answer, the recipient's unsubscribe link and RFC 8058 headers.
    links: bool = False


class CheckOut(Out, kw_only=True, omit_defaults=True):
    allowed: bool
    reason: Reason
    #: The purpose's category, which decided the rules the check was held to (always present).
    category: Category
    basis: Basis | None
    evidence: dict[str, Any] | None
    degraded: bool
    #: Asked for with ``links``, on an allowed marketing email answer only.
    links: UnsubscribeLinkOut | None = None
    #: On an email check: the sender and ``List-Id`` of the purpose's category.
    stream: StreamOut | None = None


class BulkResultOut(Out, kw_only=True, omit_defaults=True):
    to: ContactValue
    allowed: bool
    reason: Reason
    links: UnsubscribeLinkOut | None = None


class BulkCheckOut(Out, kw_only=True, omit_defaults=True):
    results: list[BulkResultOut]
    #: The purpose's category, once for every address (always present).
    category: Category
    #: True when the database did not answer: every marketing answer is then a deny. Always present.
    degraded: bool
    #: The sender and ``List-Id`` of the purpose's category, once for every address (email only).
    stream: StreamOut | None = None
