"""Choices and their record: what a person granted or withdrew, the receipt, and the history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from consent_service.api.schemas.common import ApiSource, Code, In, Note, Out, Text200, Time
from consent_service.domain.channels import Channel
from consent_service.domain.evidence import Gap
from consent_service.domain.ledger import AffirmativeAction, Decision
from consent_service.domain.notices import NoticeKind
from consent_service.domain.purposes import Basis


class NoticeRef(In, kw_only=True, frozen=True):
    purpose: Code
    version: Annotated[int, Meta(ge=1)]


class CollectionContext(In, kw_only=True, frozen=True):
    """How details were collected, for a soft opt-in (PECR reg 22(3)/(3A)).

    ``supporter`` or ``enquirer`` is the charity soft opt-in (an organisation of type ``charity``,
    details collected on or after 2026-02-05); ``customer`` (a sale) or ``negotiation`` (of a sale) is
    the commercial one (type ``company``); ``service_user`` backs neither. Each check names the first
    condition that fails (``soft_opt_in_*`` reasons).
    """

    relationship: Literal["supporter", "enquirer", "service_user", "customer", "negotiation"]
    opt_out_offered: bool
    #: The opt-out as it was offered at collection, word for word; a soft opt-in without it is denied.
    opt_out_wording: Annotated[str, Meta(min_length=1, max_length=2000)] | None = None
    #: The day the details were collected; when absent, the day the soft opt-in took effect.
    collected_on: date | None = None
    note: Note | None = None


class ChoiceIn(In, kw_only=True, frozen=True):
    purpose: Code
    channel: Channel | None = None
    decision: Decision
    notice: NoticeRef | None = None
    collection_context: CollectionContext | None = None
    #: How the person acted to grant (UK GDPR Art 4(11), Recital 32); a grant is refused without it.
    affirmative_action: AffirmativeAction | None = None
    #: Whether the yes was chosen for them before they acted (a pre-ticked box): a grant needs false,
    #: and is refused without it. A withdrawal needs neither field.
    pre_ticked: bool | None = None


class EvidenceIn(In, kw_only=True, frozen=True):
    form_id: Text200 | None = None
    ip: Annotated[str, Meta(max_length=64)] | None = None
    user_agent: Annotated[str, Meta(max_length=500)] | None = None
    staff_member: Text200 | None = None
    on_behalf_of: Text200 | None = None
    note: Note | None = None
    #: For a child (LEGAL #30): the guardian granting, a person on record, and how they are related.
    guardian_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    guardian_relationship: Text200 | None = None
    #: The child's own assent, when it was asked for and given.
    child_assent: bool | None = None


Choices = Annotated[list[ChoiceIn], Meta(max_length=50)]


class ConsentsIn(In, kw_only=True, frozen=True):
    choices: Annotated[list[ChoiceIn], Meta(min_length=1, max_length=50)]
    source: ApiSource
    effective_at: Time | None = None
    evidence: EvidenceIn | None = None


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


class ReceiptEventOut(Out, kw_only=True):
    id: str
    seq: int
    purpose: str
    channel: Channel | None
    decision: Decision
    effective_at: datetime
    hash: str
    prev_hash: str
    #: False when an opt-out was recorded without all its paperwork (DESIGN §4.1); never for a grant.
    evidence_complete: bool
    #: What the paperwork lacked, by field name: the event was recorded anyway, as the person asked.
    evidence_gaps: list[Gap]


class ReceiptOut(Out, kw_only=True):
    person_id: str
    recorded_at: datetime
    events: list[ReceiptEventOut]


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
    #: False when an opt-out was recorded without all its paperwork (DESIGN §4.1); never for a grant.
    evidence_complete: bool
    #: What the paperwork lacked, by field name: the event was recorded anyway, as the person asked.
    evidence_gaps: list[Gap]


class HistoryOut(Out, kw_only=True):
    items: list[EventOut]


class EvidenceNoticeOut(Out, kw_only=True):
    """The exact wording the person was shown: its version, language and the SHA-256 of its text."""

    purpose: str
    version: int
    language: str
    kind: NoticeKind
    sha256: str
    published_at: datetime


class EventEvidenceOut(EventOut, kw_only=True):
    """Everything that shows one recorded choice was made (LEGAL #1), in one answer: the history's
    row for the event, with the notice in full and what the evidence names pulled out."""

    person_id: str
    #: The exact wording shown: replaces the history's bare reference to it.
    notice: EvidenceNoticeOut | None  # type: ignore[assignment]
    #: The staff member who took it down (a phone call, a letter), if one did.
    staff_member: str | None
    on_behalf_of: str | None
    form_id: str | None
    #: How the person's details came in (the soft opt-in's proof), if given.
    collection_context: dict[str, Any] | None
    #: How the person acted to grant, and whether the yes was chosen for them (false on every grant
    #: recorded since they were kept); null = not recorded at the time, or a withdrawal that gave none.
    affirmative_action: AffirmativeAction | None
    pre_ticked: bool | None
    #: The lawful basis as it stood when recorded; null = not recorded at the time (events recorded
    #: before the basis was kept).
    basis: Basis | None
    evidence_hash: str
