"""Feedback from mail providers: Amazon SES (through SNS), SendGrid and Mailgun webhooks, and GOV.UK
Notify's delivery receipts and received text messages.

No API key: each provider signs its deliveries, and the signature, checked against a configured key,
is the authentication (Notify, which does not sign, sends the bearer token set in its callback
settings instead). A provider whose key is not configured answers 404. Bodies are read raw (SNS
posts JSON as ``text/plain``, and SendGrid signs the exact bytes), so no body schema is declared.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar import Controller, Request, Router, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter

from consent_service.api.dependencies import Ctx
from consent_service.api.schemas import Out
from consent_service.api.security import PUBLIC
from consent_service.domain.feedback import ProviderKeys
from consent_service.domain.feedback.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from consent_service.services import feedback
from consent_service.services.feedback import Outcome

Keys: TypeAlias = NamedDependency[ProviderKeys]

_ANSWERS = (
    "200: handled, including retries and replays, which change nothing. 403: the signature, topic, "
    "timestamp or token is refused. 404: this provider is not configured. 400/422: not a notification."
)


class FeedbackOut(Out, kw_only=True, omit_defaults=True):
    """What the delivery changed, in counts; no address is ever echoed back."""

    suppressed: int
    already_suppressed: int
    duplicates: int
    ignored: int
    unusable: int
    note: str | None = None


def _out(outcome: Outcome) -> FeedbackOut:
    return FeedbackOut(
        suppressed=outcome.suppressed,
        already_suppressed=outcome.already_suppressed,
        duplicates=outcome.duplicates,
        ignored=outcome.ignored,
        unusable=outcome.unusable,
        note=outcome.note,
    )


class FeedbackController(Controller):
    path = "/v1/feedback"
    tags = ["provider feedback"]
    opt = PUBLIC

    @post(
        "/ses",
        status_code=200,
        summary="Amazon SES bounces and complaints, delivered by SNS",
        description="An SNS HTTP(S) message, signed with the configured certificate, from a configured "
        "topic. Permanent bounces become hard_bounce entries, complaints complaint entries. A "
        "SubscriptionConfirmation records nothing: an operator confirms it by hand. " + _ANSWERS,
    )
    async def ses(self, ctx: Ctx, provider_keys: Keys, request: Request[Any, Any, Any]) -> FeedbackOut:
        return _out(await feedback.ses(ctx, provider_keys, await request.body()))

    @post(
        "/sendgrid",
        status_code=200,
        summary="The SendGrid Event Webhook (signed)",
        description="A JSON array of events. bounce (not blocked) and dropped for a bounced address become "
        "hard_bounce; spamreport (and dropped for a spam-reporting address) complaint; unsubscribe and "
        "group_unsubscribe (and dropped for an unsubscribed address) unsubscribed. " + _ANSWERS,
    )
    async def sendgrid(
        self,
        ctx: Ctx,
        provider_keys: Keys,
        request: Request[Any, Any, Any],
        signature: Annotated[str | None, HeaderParameter(name=SIGNATURE_HEADER, max_length=512)] = None,
        timestamp: Annotated[str | None, HeaderParameter(name=TIMESTAMP_HEADER, max_length=32)] = None,
    ) -> FeedbackOut:
        body = await request.body()
        return _out(await feedback.sendgrid(ctx, provider_keys, body, signature, timestamp))

    @post(
        "/mailgun",
        status_code=200,
        summary="Mailgun webhooks (signed)",
        description="One event with its signature block. failed with severity permanent becomes "
        "hard_bounce (unsubscribed or complaint when Mailgun dropped it for an earlier one; nothing when it "
        "gave up retrying), complained complaint, unsubscribed unsubscribed. The timestamp must be within "
        "15 minutes and a token is taken once. " + _ANSWERS,
    )
    async def mailgun(self, ctx: Ctx, provider_keys: Keys, request: Request[Any, Any, Any]) -> FeedbackOut:
        return _out(await feedback.mailgun(ctx, provider_keys, await request.body()))

    @post(
        "/notify",
        status_code=200,
        summary="GOV.UK Notify delivery receipts (bearer token)",
        description="One delivery receipt, as Notify's callback sends it, with Authorization: Bearer and "
        "the token set in Notify's callback settings (CONSENT_NOTIFY_CALLBACK_TOKEN). permanent-failure "
        "becomes a hard_bounce on the email address (notification_type email) or mobile number (sms); "
        "delivered, temporary-failure and technical-failure are counted as ignored, as are letters. A "
        "receipt is taken once by its id. 200: handled, including repeats, which change nothing. 403: "
        "the token is refused. 404: Notify is not configured. 400/422: not a delivery receipt (each "
        "field named).",
    )
    async def notify(self, ctx: Ctx, provider_keys: Keys, request: Request[Any, Any, Any]) -> FeedbackOut:
        # Read from the request, not declared as a parameter: OpenAPI has Authorization described by
        # security schemes, and generators drop or warn about a header parameter of that name.
        authorization = request.headers.get("authorization")
        return _out(await feedback.notify(ctx, provider_keys, await request.body(), authorization))

    @post(
        "/notify/received-text",
        status_code=200,
        summary="GOV.UK Notify received text messages (STOP; bearer token)",
        description="One received text message, as Notify's received text messages callback sends it "
        "(id, source_number, destination_number, message, date_received), with Authorization: Bearer and "
        "the token set in Notify's callback settings (CONSENT_NOTIFY_CALLBACK_TOKEN). A message whose "
        "first word is STOP, STOPALL, UNSUBSCRIBE, CANCEL, END or QUIT (any case; Welsh STOPIO or DIM) "
        "becomes an unsubscribed entry on the sender's number for marketing texts, before the next "
        "check; any other message is counted as ignored and changes nothing. Taken once by its id. Only "
        "id, source_number and message are needed: an unreadable date_received is replaced by the time "
        "it was recorded. 200: handled, including repeats. 403: the token is refused. 404: Notify is not "
        "configured. 400/422: not a received text message (each field named).",
    )
    async def notify_received(
        self, ctx: Ctx, provider_keys: Keys, request: Request[Any, Any, Any]
    ) -> FeedbackOut:
        authorization = request.headers.get("authorization")
        body = await request.body()
        return _out(await feedback.notify_received(ctx, provider_keys, body, authorization))


def feedback_routes(keys: ProviderKeys) -> Router:
    """The feedback endpoints with the checks built from configuration (``create_app`` builds them)."""
    return Router(
        path="/",
        route_handlers=[FeedbackController],
        dependencies={"provider_keys": Provide(lambda: keys, use_cache=True, sync_to_thread=False)},
    )
