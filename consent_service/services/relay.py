"""The relay: gives committed changes their feed positions and tells the stream and the webhooks.

Every worker runs one; a lease in the database lets one of them work at a time, so positions, stream
entries and webhook deliveries are not doubled by the number of workers. Delivery is at least once:
a relay that dies between telling and recording that it told will tell again, and consumers
de-duplicate by the event's id (or, for a webhook, by the delivery's ``webhook-id``).

Each webhook has a courier of its own (``Courier``): a task that sends that webhook's batches in
order, waits out its own backoff and is bounded by its own timeout, so a receiver that is slow, down
or never answers holds up nobody but itself.
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
from typing import Any, Literal

from consent_service.domain.change_ports import ChangeStream, DeliveryFailed, WebhookSender
from consent_service.domain.changes import (
    DeadLetter,
    PublishedChange,
    Webhook,
    message_id,
    retry_delay,
    signed_headers,
)
from consent_service.domain.ports import Clock, Metrics, Store

log = logging.getLogger(__name__)

STREAM_CURSOR = "redis-stream"
LEASE_NAME = "relay-lease"
BATCH = 500
WEBHOOK_BATCH = 100

#: Seconds an idle courier waits, unless woken, before it looks at its webhook again.
IDLE_LOOK = 5.0

#: What one try at a webhook's next batch came to.
Outcome = Literal["sent", "failed", "idle"]


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


def delivery(webhook: Webhook, events: list[dict[str, Any]], now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery, signed to the Standard Webhooks specification."""
    body = delivery_body(events)
    signed = signed_headers(webhook.secret, message_id(events), int(now.timestamp()), body)
    return body, {"Content-Type": "application/json", **signed}


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
        self._couriers: dict[str, Courier] = {}
        #: The feed's last position when the couriers were last woken.
        self._head = -1

    async def close(self) -> None:
        await self._stop_couriers()
        await self.sender.close()
        for stream in self.streams:
            await stream.close()

    def wake(self, *_: object) -> None:
        """Called after a commit in this process: work now rather than at the next interval."""
        self._wake.set()

    async def run(self) -> None:
        try:
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
        finally:
            await self._stop_couriers()

    async def step(self) -> None:
        """One round: position new changes, publish them, and set the webhooks' couriers going (they
        deliver on their own tasks; this does not wait for any receiver)."""
        if not await self._lead():
            await self._stop_couriers()  # another worker leads: its couriers deliver
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

    def leads(self) -> bool:
        """Whether this relay's lease is still good: a courier sends nothing once it has lapsed (a
        relay whose steps fail cannot renew it, and another worker's couriers may have taken over)."""
        return time.monotonic() < self._lease_until

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
        """Keep one courier running per active webhook, and tell them when the feed has grown (an idle
        courier then reads nothing, however many webhooks there are)."""
        async with self.store.reading() as uow:
            active = {w.id for w in await uow.webhooks.all() if w.disabled_at is None}
            head = await uow.outbox.head()
        for webhook_id in list(self._couriers):
            courier = self._couriers[webhook_id]
            if webhook_id not in active or courier.done():
                del self._couriers[webhook_id]
                await courier.stop()
        for webhook_id in active:
            if webhook_id not in self._couriers:
                self._couriers[webhook_id] = Courier(self, webhook_id)  # it looks at once
            elif head != self._head:
                self._couriers[webhook_id].wake()
        self._head = head

    async def _stop_couriers(self) -> None:
        couriers, self._couriers = list(self._couriers.values()), {}
        for courier in couriers:
            await courier.stop()

    async def deliver_once(self, webhook: Webhook) -> Outcome:
        """Send the webhook its next batch (or the batch it is retrying); record success, a retry, or
        dead letters."""
        async with self.store.reading() as uow:
            changes = await uow.outbox.after(webhook.position, WEBHOOK_BATCH)
        if webhook.pending_through is not None:
            changes = [c for c in changes if c.position <= webhook.pending_through]
        if not changes:
            return "idle"
        if webhook.pending_through is None:
            # Pinned before it is sent: a worker that dies while the receiver holds the batch leaves
            # the pin, so whichever relay tries next sends the same batch under the same webhook-id.
            async with self.store.writing() as uow:
                await uow.webhooks.pin(webhook.id, changes[-1].position)
        body, headers = delivery(webhook, [c.as_dict() for c in changes], self.clock.now())
        try:
            async with asyncio.timeout(self.settings.webhook_timeout):
                await self.sender.send(webhook.url, body, headers)
        except DeliveryFailed as exc:
            await self._failed(webhook, changes, str(exc))
            return "failed"
        except TimeoutError:
            await self._failed(webhook, changes, f"no answer within {self.settings.webhook_timeout:g} s")
            return "failed"
        async with self.store.writing() as uow:
            await uow.webhooks.delivered(webhook.id, changes[-1].position)
        return "sent"

    async def _failed(self, webhook: Webhook, changes: list[PublishedChange], error: str) -> None:
        attempts = webhook.attempts + 1
        now = self.clock.now()
        async with self.store.writing() as uow:
            if attempts < self.settings.max_attempts:
                delay = retry_delay(attempts, self.settings.backoff, self.settings.backoff_max)
                await uow.webhooks.failed(
                    webhook.id, attempts, now + timedelta(seconds=delay), error, changes[-1].position
                )
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


class Courier:
    """One webhook's deliveries, on a task of its own: its batches in order, its backoff waited out
    here, each try bounded by the webhook timeout. A receiver that hangs therefore delays only its own
    courier; the others keep delivering. Only the relay holding the lease runs couriers."""

    def __init__(self, relay: Relay, webhook_id: str) -> None:
        self.relay = relay
        self.webhook_id = webhook_id
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"webhook {webhook_id}")

    def wake(self) -> None:
        """Changes may be waiting. A courier waiting out a backoff keeps waiting."""
        self._wake.set()

    def done(self) -> bool:
        return self._task.done()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                busy = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a courier must outlive a database or network outage
                log.warning("webhook %s: delivery round failed (%s)", self.webhook_id, type(exc).__name__)
                await asyncio.sleep(self.relay.settings.interval)
                continue
            if not busy:
                # Woken when the feed grows; the look now and then covers a lease that lapsed and
                # came back while this courier had a retry due.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_LOOK)

    async def _round(self) -> bool:
        """One step for this webhook; True if another should follow at once."""
        if not self.relay.leads():
            return False
        async with self.relay.store.reading() as uow:
            webhook = await uow.webhooks.get(self.webhook_id)
        if webhook is None or webhook.disabled_at is not None:
            return False  # the relay stops this courier at its next step
        if webhook.next_attempt_at is not None:
            wait = (webhook.next_attempt_at - self.relay.clock.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
                return True  # read the webhook again: it may have been stopped meanwhile
        return await self.relay.deliver_once(webhook) != "idle"


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
