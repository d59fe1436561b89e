"""A person's rights: restricting processing, erasure, and the export of everything held on them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from msgspec import Meta

from consent_service.api.schemas.choices import ChoiceStateOut, EventOut
from consent_service.api.schemas.common import ChannelOrAll, ContactValue, In, Out
from consent_service.api.schemas.people import PersonOut
from consent_service.domain.suppressions import (
    LiftReason,
    SuppressionHow,
    SuppressionReason,
    SuppressionScope,
)


class RestrictionIn(In, kw_only=True, frozen=True):
    channel: ChannelOrAll
    #: One of the person's contact points; absent means every contact point.
    to: ContactValue | None = None
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class ErasureIn(In, kw_only=True, frozen=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


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
    #: The keyed fingerprint the list holds instead of the address (the address is in ``person``).
    fingerprint: str
    channel: ChannelOrAll
    scope: SuppressionScope
    reason: SuppressionReason
    purpose: str | None
    #: How the request reached staff, for an entry staff added.
    how: SuppressionHow | None
    effective_at: datetime
    lifted_at: datetime | None
    lift_reason: LiftReason | None


class ExportOut(Out, kw_only=True):
    """Everything held on one person (a subject access request)."""

    generated_at: datetime
    person: PersonOut
    household_members: list[str]
    current_choices: list[ChoiceStateOut]
    events: list[EventOut]
    restrictions: list[RestrictionOut]
    suppressions: list[HeldSuppressionOut]
    #: A Kantara Consent Receipt v1.1 for every grant recorded.
    receipts: list[dict[str, Any]]
    #: Every change to the record, oldest first, and who made it.
    staff_changes: list[StaffChangeOut]


class StaffChangeOut(Out, kw_only=True):
    at: datetime
    #: The API key or staff account that wrote the change.
    by: str
    what: str
    #: The staff member the paperwork names (the person who took a phone call), if any.
    staff_member: str | None


class ErasureOut(Out, kw_only=True):
    person_id: str
    erased_at: datetime
    suppression_tombstones: int
    events_kept: int


class AccessRequestIn(In, kw_only=True, frozen=True):
    #: The day the request reached the organisation; the month to answer runs from it (Art 12(3)).
    received_on: date


class AccessRequestOut(Out, kw_only=True):
    id: str
    person_id: str
    received_on: date
    #: One calendar month after ``received_on`` (31 January → 28 or 29 February).
    due_on: date
    #: Not answered and past its due date, today (UTC).
    overdue: bool
    recorded_by: str
    recorded_at: datetime
    answered_at: datetime | None
    answered_by: str | None


class AccessRequestsOut(Out, kw_only=True):
    items: list[AccessRequestOut]


class LegalHoldIn(In, kw_only=True, frozen=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class LegalHoldOut(Out, kw_only=True):
    id: str
    person_id: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_at: datetime | None
    released_by: str | None


class LegalHoldsOut(Out, kw_only=True):
    items: list[LegalHoldOut]
