"""Provider feedback into the suppression list: permanent bounces, complaints and unsubscribes, from
mail providers, from GOV.UK Notify's delivery receipts (emails and text messages), and from the text
messages people send back through Notify (STOP).

Each delivery is verified by the provider's reader (``domain.feedback``), then, in one transaction,
every event id is claimed in ``provider_events`` and the addresses of newly claimed events are
suppressed (email, or sms for a text message Notify could not deliver; marketing scope; a hard
bounce denies every message to the address by the decision rules). A retried or replayed event
finds its claim and changes nothing, and a failure anywhere rolls claims and suppressions back
together, so the provider's retry does the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from consent_service.domain.errors import InvalidInput, NotFound
from consent_service.domain.feedback import Feedback, FeedbackFact, Provider, ProviderKeys, Unauthentic
from consent_service.domain.feedback import mailgun as mailgun_reader
from consent_service.domain.feedback import notify as notify_reader
from consent_service.domain.feedback import sendgrid as sendgrid_reader
from consent_service.domain.feedback import ses as ses_reader
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.suppressions import SuppressionScope
from consent_service.services.context import Context
from consent_service.services.suppressions import SuppressionInput, fingerprint_of, suppress

log = logging.getLogger("consent_service.feedback")

#: Mailgun tokens are remembered beside event ids, under a name of their own.
MAILGUN_TOKENS = "mailgun-token"


@dataclass(slots=True)
class Outcome:
    """What a delivery changed. Counts only: no address is ever echoed back or logged."""

    suppressed: int = 0
    already_suppressed: int = 0
    duplicates: int = 0
    ignored: int = 0
    unusable: int = 0
    note: str | None = None


def _not_configured(provider: Provider) -> NotFound:
    return NotFound(f"{provider.value} feedback is not configured on this service")


async def ses(ctx: Context, keys: ProviderKeys, body: bytes) -> Outcome:
    if keys.ses is None:
        raise _not_configured(Provider.SES)
    message = ses_reader.read(body, keys.ses, keys.ses_topics)
    if message.type is ses_reader.MessageType.SUBSCRIPTION_CONFIRMATION:
        # Never fetched from here: confirming is an operator's deliberate act.
        log.warning(
            "SNS subscription to %s awaits confirmation; an operator must open this URL by hand: %s",
            message.topic_arn,
            message.subscribe_url,
        )
        return Outcome(ignored=1, note="Subscription not confirmed automatically; see the service log.")
    if message.type is ses_reader.MessageType.UNSUBSCRIBE_CONFIRMATION:
        log.warning("SNS reports this endpoint unsubscribed from %s", message.topic_arn)
        return Outcome(ignored=1)
    return await _record(ctx, Provider.SES, ses_reader.feedback(message))


async def sendgrid(
    ctx: Context, keys: ProviderKeys, body: bytes, signature: str | None, timestamp: str | None
) -> Outcome:
    if keys.sendgrid is None:
        raise _not_configured(Provider.SENDGRID)
    return await _record(
        ctx, Provider.SENDGRID, sendgrid_reader.read(body, signature, timestamp, keys.sendgrid)
    )


async def mailgun(ctx: Context, keys: ProviderKeys, body: bytes) -> Outcome:
    if keys.mailgun is None:
        raise _not_configured(Provider.MAILGUN)
    delivery = mailgun_reader.read(body, keys.mailgun, ctx.clock.now())
    return await _record(ctx, Provider.MAILGUN, delivery.feedback, token=delivery.token)


async def notify(ctx: Context, keys: ProviderKeys, body: bytes, authorization: str | None) -> Outcome:
    if keys.notify_token is None:
        raise _not_configured(Provider.NOTIFY)
    notify_reader.authenticate(authorization, keys.notify_token)
    return await _record(ctx, Provider.NOTIFY, notify_reader.read(body))


async def notify_received(
    ctx: Context, keys: ProviderKeys, body: bytes, authorization: str | None
) -> Outcome:
    """A text message someone sent to the service's number: STOP opts that number out of marketing
    texts before the next check; anything else is counted. Taken once by Notify's id."""
    if keys.notify_token is None:
        raise _not_configured(Provider.NOTIFY)
    notify_reader.authenticate(authorization, keys.notify_token)
    return await _record(ctx, Provider.NOTIFY, notify_reader.read_received(body))


async def _record(ctx: Context, provider: Provider, feedback: Feedback, token: str | None = None) -> Outcome:
    outcome = Outcome(ignored=feedback.ignored, unusable=feedback.unusable)
    if not feedback.facts and not feedback.seen and token is None:
        _log(provider, outcome)
        return outcome
    async with ctx.store.writing() as uow:
        now = ctx.clock.now()
        ids = list(dict.fromkeys([*(fact.event_id for fact in feedback.facts), *feedback.seen]))
        fresh = {event for event in ids if await uow.provider_events.claim(provider.value, event, now)}
        outcome.duplicates = len(ids) - len(fresh)
        if feedback.seen and ids and not fresh:
            # A retry of an event already handled (Mailgun, whatever its token; Notify): nothing to do.
            outcome.ignored = outcome.unusable = 0
            _log(provider, outcome)
            return outcome
        if token is not None and not await uow.provider_events.claim(MAILGUN_TOKENS, token, now):
            raise Unauthentic("this token was used before: a replayed or re-signed notification")
        for fact in feedback.facts:
            if fact.event_id in fresh:
                await _suppress(uow, ctx, fact, now, outcome)
    _log(provider, outcome)
    return outcome


async def _suppress(
    uow: UnitOfWork, ctx: Context, fact: FeedbackFact, now: datetime, outcome: Outcome
) -> None:
    try:
        fingerprint = fingerprint_of(ctx, fact.to, fact.channel)
    except InvalidInput:
        outcome.unusable += 1
        return
    listed = await uow.suppressions.for_fingerprints([fingerprint], fact.channel, include_lifted=False)
    if any(
        entry.reason is fact.reason and entry.purpose is None and entry.in_force_at(now)
        for entry in listed.get(fingerprint, [])
    ):
        outcome.already_suppressed += 1
        return
    await suppress.within(
        uow,
        ctx,
        SuppressionInput(
            to=fact.to,
            channel=fact.channel,
            scope=SuppressionScope.MARKETING,
            reason=fact.reason,
            actor=f"{fact.provider.value} webhook",
            source=fact.provider.value,
            effective_at=fact.occurred_at,
        ),
    )
    outcome.suppressed += 1


def _log(provider: Provider, outcome: Outcome) -> None:
    log.info(
        "%s feedback: %d suppressed, %d already suppressed, %d duplicate, %d ignored, %d unusable",
        provider.value,
        outcome.suppressed,
        outcome.already_suppressed,
        outcome.duplicates,
        outcome.ignored,
        outcome.unusable,
    )
