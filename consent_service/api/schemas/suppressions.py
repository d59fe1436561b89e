"""The suppression list: adding an entry, lifting one, and reading the list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta

from consent_service.api.schemas.choices import EvidenceIn, ReceiptOut
from consent_service.api.schemas.common import (
    ApiSource,
    ChannelOrAll,
    Code,
    ContactValue,
    In,
    Note,
    Out,
    Time,
)
from consent_service.domain.evidence import Gap
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope


class SuppressionIn(In, kw_only=True, frozen=True):
    to: ContactValue
    channel: ChannelOrAll
    scope: SuppressionScope = SuppressionScope.MARKETING
    reason: SuppressionReason
    purpose: Code | None = None
    note: Note | None = None


class LiftIn(In, kw_only=True, frozen=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


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
    #: False when the entry was added without everything the request should have said (DESIGN §4.1).
    evidence_complete: bool
    #: What it lacked: ``purpose`` means the purpose named is unknown, so the entry covers every purpose.
    evidence_gaps: list[Gap]


class SuppressionsOut(Out, kw_only=True):
    items: list[SuppressionOut]
    next_cursor: str | None = None


class ObjectionIn(In, kw_only=True, frozen=True):
    """The person objects to all direct marketing (UK GDPR Art 21(2)): how they said so, and when."""

    source: ApiSource
    effective_at: Time | None = None
    evidence: EvidenceIn | None = None


class ObjectionOut(Out, kw_only=True):
    #: The withdrawal of every marketing purpose on every channel, as recorded in the ledger.
    receipt: ReceiptOut
    #: One entry per contact point the person has: every channel, every marketing purpose, never
    #: lifted by a key or staff member; the person's own new grant re-opens one purpose and channel.
    suppressions: list[SuppressionOut]
