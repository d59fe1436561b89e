"""Request and response bodies. Inputs reject unknown fields; constraints live in the types (one source
for validation and for the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.decision import Reason
from consent_service.domain.keys import Scope
from consent_service.domain.ledger import Decision
from consent_service.domain.purposes import Basis, Category
from consent_service.domain.suppressions import Scope as SuppressionScope
from consent_service.domain.suppressions import SuppressionReason


class In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Base of every input body."""


class Out(msgspec.Struct, kw_only=True):
    """Base of every response body."""


Text200 = Annotated[str, Meta(min_length=1, max_length=200)]
Note = Annotated[str, Meta(max_length=2000)]
Code = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,63}$", examples=["marketing"])]
Uuid = Annotated[str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Time = Annotated[datetime, Meta(tz=True, description="RFC 3339 with a time zone")]
#: A suppression can name one channel or every channel.
ChannelOrAll = Literal["email", "sms", "phone", "post", "all"]
#: A purpose's basis is given per channel, or for "none" when it has no channel (a testimonial).
ChannelOrNone = Literal["email", "sms", "phone", "post", "none"]
ApiSource = Literal["web_form", "paper_form", "phone_call", "email", "letter", "in_person", "import"]


class PostalAddress(In, kw_only=True, frozen=True):
    lines: Annotated[list[Annotated[str, Meta(max_length=200)]], Meta(min_length=1, max_length=8)]
    postcode: Annotated[str, Meta(min_length=2, max_length=16)]


ContactValue = Annotated[str, Meta(min_length=1, max_length=320)] | PostalAddress


class ContactIn(In, kw_only=True, frozen=True):
    kind: ContactKind
    value: ContactValue


class PersonIn(In, kw_only=True, frozen=True):
    reference: Text200 | None = None
    household: Text200 | None = None
    display_name: Text200 | None = None
    contacts: Annotated[list[ContactIn], Meta(max_length=20)] = []


class NoticeRef(In, kw_only=True, frozen=True):
    purpose: Code
    version: Annotated[int, Meta(ge=1)]


class CollectionContext(In, kw_only=True, frozen=True):
    """How details were collected, for a soft opt-in (PECR reg 22(3)/(3A))."""

    relationship: Literal["supporter", "enquirer", "service_user", "customer"]
    opt_out_offered: bool
    note: Note | None = None


class ChoiceIn(In, kw_only=True, frozen=True):
    purpose: Code
    channel: Channel | None = None
    decision: Decision
    notice: NoticeRef | None = None
    collection_context: CollectionContext | None = None


class EvidenceIn(In, kw_only=True, frozen=True):
    form_id: Text200 | None = None
    ip: Annotated[str, Meta(max_length=64)] | None = None
    user_agent: Annotated[str, Meta(max_length=500)] | None = None
    staff_member: Text200 | None = None
    on_behalf_of: Text200 | None = None
    note: Note | None = None


Choices = Annotated[list[ChoiceIn], Meta(max_length=50)]


class RegistrationIn(In, kw_only=True, frozen=True):
    person: PersonIn
    choices: Choices = []
    source: ApiSource
    effective_at: Time | None = None
    evidence: EvidenceIn | None = None


class ConsentsIn(In, kw_only=True, frozen=True):
    choices: Annotated[list[ChoiceIn], Meta(min_length=1, max_length=50)]
    source: ApiSource
    effective_at: Time | None = None
    evidence: EvidenceIn | None = None


class CheckIn(In, kw_only=True, frozen=True):
    purpose: Code
    channel: Channel | None = None
    to: ContactValue | None = None
    person_id: Uuid | None = None
    at: Time | None = None


class BulkCheckIn(In, kw_only=True, frozen=True):
    purpose: Code
    channel: Channel
    to: Annotated[list[ContactValue], Meta(min_length=1, max_length=10_000)]


class SuppressionIn(In, kw_only=True, frozen=True):
    to: ContactValue
    channel: ChannelOrAll
    scope: SuppressionScope = SuppressionScope.MARKETING
    reason: SuppressionReason
    purpose: Code | None = None
    note: Note | None = None


class LiftIn(In, kw_only=True, frozen=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class PurposeIn(In, kw_only=True, frozen=True):
    code: Code
    category: Category
    description: Note = ""
    bases: Annotated[dict[ChannelOrNone, Basis], Meta(min_length=1)]


class NoticeIn(In, kw_only=True, frozen=True):
    purpose: Code
    text: Annotated[str, Meta(min_length=1, max_length=20_000)]
    language: Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "en"
    published_at: Time | None = None


class UnsubscribeLinkIn(In, kw_only=True, frozen=True):
    to: ContactValue
    channel: Channel
    purpose: Code = "marketing"


class RestrictionIn(In, kw_only=True, frozen=True):
    channel: ChannelOrAll
    #: One of the person's contact points; absent means every contact point.
    to: ContactValue | None = None
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class PersonChangeIn(In, kw_only=True, frozen=True):
    """Rectification: fields given are set (``null`` clears one); fields left out stay as they are."""

    reference: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    household: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    display_name: Text200 | msgspec.UnsetType | None = msgspec.UNSET


class ErasureIn(In, kw_only=True, frozen=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class KeyIn(In, kw_only=True, frozen=True):
    name: Text200
    scopes: Annotated[list[Scope], Meta(min_length=1)]


# Responses


class ContactOut(Out, kw_only=True):
    id: str
    kind: ContactKind
    value: str


class NoticeRefOut(Out, kw_only=True):
    purpose: str
    version: int


class ChoiceStateOut(Out, kw_only=True):
    purpose: str
    channel: Channel | None
    status: Literal["granted", "withdrawn", "none"]
    basis: Basis
    effective_at: datetime | None
    event_id: str | None
    notice: NoticeRefOut | None
    source: str | None


class PersonOut(Out, kw_only=True):
    id: str
    reference: str | None
    household: str | None
    display_name: str | None
    created_at: datetime
    contacts: list[ContactOut]
    choices: list[ChoiceStateOut] | None = None


class PeopleOut(Out, kw_only=True):
    items: list[PersonOut]


class ReceiptEventOut(Out, kw_only=True):
    id: str
    seq: int
    purpose: str
    channel: Channel | None
    decision: Decision
    effective_at: datetime
    hash: str
    prev_hash: str


class ReceiptOut(Out, kw_only=True):
    person_id: str
    recorded_at: datetime
    events: list[ReceiptEventOut]


class RegistrationOut(Out, kw_only=True):
    person_id: str
    receipt: ReceiptOut


class ConsentsOut(Out, kw_only=True):
    receipt: ReceiptOut


class ChoiceStatesOut(Out, kw_only=True):
    items: list[ChoiceStateOut]


class EventOut(Out, kw_only=True):
    id: str
    seq: int
    purpose: str
    channel: Channel | None
    decision: Decision
    effective_at: datetime
    recorded_at: datetime
    source: str
    actor: str
    notice: NoticeRefOut | None
    evidence: dict[str, Any]
    hash: str
    prev_hash: str


class HistoryOut(Out, kw_only=True):
    items: list[EventOut]


class CheckOut(Out, kw_only=True):
    allowed: bool
    reason: Reason
    basis: Basis | None
    evidence: dict[str, Any] | None
    degraded: bool


class BulkResultOut(Out, kw_only=True):
    to: ContactValue
    allowed: bool
    reason: Reason


class BulkCheckOut(Out, kw_only=True):
    results: list[BulkResultOut]
    #: True when the database did not answer: every marketing answer is then a deny.
    degraded: bool = False


class SuppressionOut(Out, kw_only=True):
    id: str
    fingerprint: str
    channel: ChannelOrAll
    scope: SuppressionScope
    reason: SuppressionReason
    purpose: str | None
    source: str
    actor: str
    note: str | None
    effective_at: datetime
    recorded_at: datetime
    lifted_at: datetime | None
    lift_reason: str | None
    lifted_by: str | None


class SuppressionsOut(Out, kw_only=True):
    items: list[SuppressionOut]
    next_cursor: str | None = None


class PurposeOut(Out, kw_only=True):
    code: str
    category: Category
    description: str
    bases: dict[str, Basis]


class PurposesOut(Out, kw_only=True):
    items: list[PurposeOut]


class NoticeOut(Out, kw_only=True):
    id: str
    purpose: str
    version: int
    language: str
    text: str
    sha256: str
    published_at: datetime


class NoticesOut(Out, kw_only=True):
    items: list[NoticeOut]


class KeyOut(Out, kw_only=True):
    id: str
    name: str
    scopes: list[Scope]
    key: str = msgspec.field(name="key")


class UnsubscribeLinkOut(Out, kw_only=True):
    url: str
    preferences_url: str
    #: The two headers a mailing tool adds to the message (RFC 2369, RFC 8058).
    headers: dict[str, str]


class RestrictionOut(Out, kw_only=True):
    id: str
    person_id: str
    channel: ChannelOrAll
    contact_id: str | None
    reason: str
    created_by: str
    created_at: datetime
    lifted_at: datetime | None
    lift_reason: str | None
    lifted_by: str | None


class RestrictionsOut(Out, kw_only=True):
    items: list[RestrictionOut]


class HeldSuppressionOut(Out, kw_only=True):
    channel: ChannelOrAll
    scope: SuppressionScope
    reason: SuppressionReason
    purpose: str | None
    effective_at: datetime
    lifted_at: datetime | None
    lift_reason: str | None


class ExportOut(Out, kw_only=True):
    """Everything held on one person (a subject access request)."""

    generated_at: datetime
    person: PersonOut
    household_members: list[str]
    current_choices: list[ChoiceStateOut]
    events: list[EventOut]
    restrictions: list[RestrictionOut]
    suppressions: list[HeldSuppressionOut]


class ErasureOut(Out, kw_only=True):
    person_id: str
    erased_at: datetime
    suppression_tombstones: int
    events_kept: int


class Health(Out, kw_only=True):
    status: str


class ChangeOut(Out, kw_only=True):
    position: int
    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class ChangesOut(Out, kw_only=True):
    items: list[ChangeOut]
    #: pass as ``after`` to read on; the same as ``after`` when nothing new has happened
    next_cursor: int


class WebhookIn(In, kw_only=True, frozen=True):
    url: Annotated[str, Meta(min_length=8, max_length=2000, pattern=r"^https?://")]


class WebhookOut(Out, kw_only=True):
    id: str
    url: str
    created_at: datetime
    disabled_at: datetime | None
    position: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None


class NewWebhookOut(WebhookOut, kw_only=True):
    #: shown once: the key receivers check the ``Consent-Signature`` header with
    secret: str


class WebhooksOut(Out, kw_only=True):
    items: list[WebhookOut]


class DeadLetterOut(Out, kw_only=True):
    id: str
    webhook_id: str
    position: int
    event: dict[str, Any]
    attempts: int
    last_error: str
    failed_at: datetime
    replayed_at: datetime | None


class DeadLettersOut(Out, kw_only=True):
    items: list[DeadLetterOut]
