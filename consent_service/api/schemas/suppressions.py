"""The suppression list: adding an entry, lifting one, and reading the list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

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
from consent_service.domain.suppressions import (
    LiftReason,
    SuppressionHow,
    SuppressionReason,
    SuppressionScope,
)

#: A field a request may still send that the suppression list does not keep.
NotKept = Literal["note"]

#: The reasons a key may give for lifting an entry (``domain/suppressions.py: STAFF_LIFT_REASONS``).
StaffLiftReason = Literal["confirmed_working", "added_in_error"]

#: Each begins as ``api/contract.py: DEPRECATED`` asks, so the document marks the field deprecated.
DISCARDED_NOTE = (
    "Deprecated: accepted and discarded, never stored. The suppression list keeps no free text (UK GDPR"
    " Art 5(1)(c)): say why with `reason` and how the request came with `how`. The answer names it in"
    " `ignored`; the entry is added all the same."
)

ALWAYS_NULL = (
    "Deprecated: always null. The suppression list keeps no free text; the field stays so that a reader"
    " that expects it still reads the entry."
)


class SuppressionIn(In, kw_only=True, frozen=True):
    to: ContactValue
    channel: ChannelOrAll
    scope: SuppressionScope = SuppressionScope.MARKETING
    reason: SuppressionReason
    purpose: Code | None = None
    #: How the request reached staff, where staff took it: a code, never free text.
    how: SuppressionHow | None = None
    note: Annotated[Note | None, Meta(description=DISCARDED_NOTE, extra_json_schema={"deprecated": True})] = (
        None
    )


class LiftIn(In, kw_only=True, frozen=True):
    """Lifting a safeguarding restriction: the reason in words, kept with the person's record."""

    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class SuppressionLiftIn(In, kw_only=True, frozen=True):
    #: ``confirmed_working`` (a bounced address or number confirmed working) or ``added_in_error``.
    reason: StaffLiftReason


class SuppressionOut(Out, kw_only=True):
    id: str
    fingerprint: str
    channel: ChannelOrAll
    scope: SuppressionScope
    reason: SuppressionReason
    purpose: str | None
    source: str
    actor: str
    #: How the request reached staff, for an entry staff added; null where ``source`` says it.
    how: SuppressionHow | None
    note: Annotated[None, Meta(description=ALWAYS_NULL, extra_json_schema={"deprecated": True})] = None
    effective_at: datetime
    recorded_at: datetime
    lifted_at: datetime | None
    lift_reason: LiftReason | None
    lifted_by: str | None
    #: False when the entry was added without everything the request should have said (DESIGN §4.1).
    evidence_complete: bool
    #: What it lacked: ``purpose`` means the purpose named is unknown, so the entry covers every purpose.
    evidence_gaps: list[Gap]
    #: What the request that added it sent and the list does not keep: read, discarded, stored nowhere
    #: (``note``). Empty when the entry is read back.
    ignored: list[NotKept]


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
