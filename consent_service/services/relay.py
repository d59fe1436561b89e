"""The relay: gives committed changes their feed positions and tells the stream and the webhooks.

Every worker runs one; a lease in the database lets one of them work at a time, so positions, stream
entries and webhook deliveries are not doubled by the number of workers. Delivery is at least once:
a relay that dies between telling and recording that it told will tell again, and consumers
de-duplicate by the event's id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consent_service.domain.changes import DeadLetter, PublishedChange, Webhook, retry_delay, signature
from consent_service.domain.ports import ChangeStream, Clock, DeliveryFailed, Metrics, Store, WebhookSender

log = logging.getLogger(__name__)

STREAM_CURSOR = "redis-stream"
LEASE_NAME = "relay-lease"
BATCH = 500
WEBHOOK_BATCH = 100


@dataclass(frozen=True, slots=True)
class RelaySettings:
    interval: float = 0.5
    lease: float = 10.0
    webhook_timeout: float = 5.0
    max_attempts: int = 8
    backoff: float = 1.0
    backoff_max: float = 300.0
    retention_days: int = 30


def delivery_body(events: list[dict[str, Any]]) -> bytes:
    """What a webhook receives: ``{"events": [...]}``, each event as the feed serves it."""
    return json.dumps({"events": events}, separators=(",", ":")).encode()


def delivery_headers(webhook: Webhook, body: bytes, now: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Consent-Signature": signature(webhook.secret, int(now.timestamp()), body),
        "Consent-Webhook-Id": webhook.id,
    }


class Relay:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        sender: WebhookSender,
        streams: Sequence[ChangeStream],
        metrics: Metrics,
        settings: RelaySettings,
        holder: int | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sender = sender
        #: Where changes are published besides webhooks: none, or the Redis stream. A sequence rather
        #: than an optional one, because a stream also has a cursor that the lag is measured against.
        self.streams = tuple(streams)
        self.metrics = metrics
        self.settings = settings
        # Any non-zero value unique enough among the workers; 0 marks a lease nobody holds.
        self.holder = holder or secrets.randbits(62) + 1
        self._lease_until = 0.0
        self._next_try = 0.0
        self._next_purge = 0.0
        self._wake = asyncio.Event()

    async def close(self) -> None:
        await self.sender.close()
        for stream in self.streams:
            await stream.close()

    def wake(self, *_: object) -> None:
        """Called after a commit in this process: work now rather than at the next interval."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.interval)
            self._wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive a database or network outage
                log.warning("relay step failed (%s); retrying", type(exc).__name__)

    async def step(self) -> None:
        if not await self._lead():
            return
        await position(self.store, self.clock)
        for stream in self.streams:
            await self._publish(stream)
        await self._deliver()
        await self._measure()
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + 600
            cutoff = self.clock.now() - timedelta(days=self.settings.retention_days)
            async with self.store.writing() as uow:
                await uow.outbox.purge(cutoff)

    async def _lead(self) -> bool:
        now = time.monotonic()
        if now < self._lease_until - self.settings.lease / 2:
            return True
        if now < self._next_try and now >= self._lease_until:
            return False  # another worker leads; ask again later rather than on every wake-up
        wall = self.clock.now()
        async with self.store.writing() as uow:
            held = await uow.outbox.take_lease(
                LEASE_NAME, self.holder, wall + timedelta(seconds=self.settings.lease), wall
            )
        if held:
            self._lease_until = now + self.settings.lease
        else:
            self._lease_until = 0.0
            self._next_try = now + self.settings.lease / 2
        return held

    async def _publish(self, stream: ChangeStream) -> None:
        while True:
            async with self.store.reading() as uow:
                cursor = await uow.outbox.cursor(STREAM_CURSOR)
                changes = await uow.outbox.after(cursor, BATCH)
            if not changes:
                return
            await stream.publish(changes)
            async with self.store.writing() as uow:
                await uow.outbox.set_cursor(STREAM_CURSOR, changes[-1].position, self.clock.now())

    async def _deliver(self) -> None:
        async with self.store.reading() as uow:
            hooks = [w for w in await uow.webhooks.all() if w.disabled_at is None]
        now = self.clock.now()
        for webhook in hooks:
            if webhook.next_attempt_at is not None and webhook.next_attempt_at > now:
                continue
            await self.deliver_once(webhook)

    async def deliver_once(self, webhook: Webhook) -> bool:
        """Send the webhook its next batch; record success, a retry, or dead letters. True if sent."""
        async with self.store.reading() as uow:
            changes = await uow.outbox.after(webhook.position, WEBHOOK_BATCH)
        if not changes:
            return False
        now = self.clock.now()
        body = delivery_body([c.as_dict() for c in changes])
        try:
            await self.sender.send(webhook.url, body, delivery_headers(webhook, body, now))
        except DeliveryFailed as exc:
            await self._failed(webhook, changes, str(exc))
            return False
        async with self.store.writing() as uow:
            await uow.webhooks.delivered(webhook.id, changes[-1].position)
        return True

    async def _failed(self, webhook: Webhook, changes: list[PublishedChange], error: str) -> None:
        attempts = webhook.attempts + 1
        now = self.clock.now()
        async with self.store.writing() as uow:
            if attempts < self.settings.max_attempts:
                delay = retry_delay(attempts, self.settings.backoff, self.settings.backoff_max)
                await uow.webhooks.failed(webhook.id, attempts, now + timedelta(seconds=delay), error)
                log.warning("webhook %s failed (attempt %d), retrying in %.0f s", webhook.id, attempts, delay)
                return
            await uow.webhooks.dead_letter(
                [
                    DeadLetter(str(uuid.uuid4()), webhook.id, c.position, c.as_dict(), attempts, error, now)
                    for c in changes
                ]
            )
            await uow.webhooks.delivered(webhook.id, changes[-1].position)
        log.error(
            "webhook %s: %d changes dead-lettered after %d attempts", webhook.id, len(changes), attempts
        )

    async def _measure(self) -> None:
        async with self.store.reading() as uow:
            consumers = [w.position for w in await uow.webhooks.all() if w.disabled_at is None]
            for _ in self.streams:
                consumers.append(await uow.outbox.cursor(STREAM_CURSOR))
            oldest = await uow.outbox.oldest_waiting(min(consumers) if consumers else None)
        lag = (self.clock.now() - oldest).total_seconds() if oldest else 0.0
        self.metrics.outbox_lag(max(0.0, lag))


async def position(store: Store, clock: Clock) -> int:
    """Give positions to every committed change waiting for one; how many were given."""
    async with store.reading() as uow:
        if not await uow.outbox.pending():
            return 0
    total = 0
    while True:
        async with store.writing() as uow:
            given = await uow.outbox.assign_positions(BATCH, clock.now())
        total += given
        if given < BATCH:
            return total
