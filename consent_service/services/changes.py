"""The change feed and its webhooks: what other systems read to keep in step with opt-outs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import urlsplit

from consent_service.domain.change_ports import WebhookSender
from consent_service.domain.changes import DeadLetter, PublishedChange, Webhook, new_secret
from consent_service.domain.errors import InvalidInput, NotFound
from consent_service.services.context import Context
from consent_service.services.relay import delivery, position

FEED_LIMIT = 1000


async def feed(ctx: Context, after: int, limit: int) -> list[PublishedChange]:
    """Changes after position ``after``, in order. Waiting changes are positioned first, so a caller
    reads its own writes without waiting for the relay."""
    await position(ctx.bookkeeping, ctx.clock)
    async with ctx.store.reading() as uow:
        return await uow.outbox.after(after, min(limit, FEED_LIMIT))


async def add_webhook(ctx: Context, url: str) -> Webhook:
    """A webhook hears of changes from now on (the feed has the history); its secret is shown once."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname  # raises on a malformed port or bracketed host
        parts.port  # noqa: B018
    except ValueError as exc:
        raise InvalidInput.one("url", f"not a web address ({exc})") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise InvalidInput.one("url", "an http:// or https:// address with a host")
    refused = ctx.webhook_destinations.refusal(url)
    if refused is not None:
        raise InvalidInput.one("url", f"{refused}; set by CONSENT_WEBHOOK_DESTINATIONS")
    await position(ctx.bookkeeping, ctx.clock)
    async with ctx.store.writing() as uow:
        webhook = Webhook(
            id=str(uuid.uuid4()),
            url=url,
            secret=new_secret(),
            created_at=ctx.clock.now(),
            position=await uow.outbox.head(),
        )
        await uow.webhooks.add(webhook)
    return webhook


async def webhooks(ctx: Context) -> list[Webhook]:
    async with ctx.store.reading() as uow:
        return await uow.webhooks.all()


async def disable_webhook(ctx: Context, webhook_id: str) -> Webhook:
    async with ctx.store.writing() as uow:
        if not await uow.webhooks.disable(webhook_id, ctx.clock.now()):
            raise NotFound(f"no active webhook {webhook_id}")
        found = await uow.webhooks.get(webhook_id)
    if found is None:
        raise NotFound(f"no webhook {webhook_id}")
    return found


async def dead_letters(ctx: Context, webhook_id: str, include_replayed: bool = False) -> list[DeadLetter]:
    async with ctx.store.reading() as uow:
        if await uow.webhooks.get(webhook_id) is None:
            raise NotFound(f"no webhook {webhook_id}")
        return await uow.webhooks.dead_letters(webhook_id, include_replayed)


async def replay(ctx: Context, sender: WebhookSender, letter_id: str) -> DeadLetter:
    """Send one dead letter again now; raises ``DeliveryFailed`` if the webhook still refuses it."""
    async with ctx.store.reading() as uow:
        letter = await uow.webhooks.get_dead_letter(letter_id)
        webhook = await uow.webhooks.get(letter.webhook_id) if letter else None
    if letter is None or webhook is None:
        raise NotFound(f"no dead letter {letter_id}")
    body, headers = delivery(webhook, [letter.event], ctx.clock.now())
    await sender.send(webhook.url, body, headers)
    async with ctx.store.writing() as uow:
        await uow.webhooks.replayed(letter.id, ctx.clock.now())
    return replace(letter, replayed_at=ctx.clock.now())
