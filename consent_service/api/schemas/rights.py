"""A person's rights: restricting processing, erasure, and the export of everything held on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta

from consent_service.api.schemas.choices import ChoiceStateOut, EventOut
from consent_service.api.schemas.common import ChannelOrAll, ContactValue, In, Out
from consent_service.api.schemas.people import PersonOut
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope


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
