"""The change feed and the webhooks that deliver it, with the deliveries that failed for good."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta

from consent_service.api.schemas.common import In, Out


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
    #: shown once (``whsec_…``): the secret receivers verify the Standard Webhooks headers with
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
