"""How committed changes reach others (the feed, webhooks, a stream), as protocols ``db/outbox.py``
and ``adapters/changes.py`` implement.

A change is told only after its transaction commits (``ports.py: UnitOfWork.emit``), so no consumer
hears of a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from consent_service.domain.changes import DeadLetter, PublishedChange, Webhook


class Outbox(Protocol):
    """Committed changes waiting to be told, and how far each consumer has got."""

    async def pending(self) -> bool:
        """Whether some committed change has no feed position yet."""
        ...

    async def assign_positions(self, limit: int, at: datetime) -> int:
        """Give the next feed positions to committed changes that have none; how many were given.
        ``at`` (now, from the caller's clock) is kept as when positions were last given.

        Positions are given by one transaction at a time, after the changes committed, so a reader
        that has seen position N never later finds a change placed before it.
        """
        ...

    async def after(self, position: int, limit: int) -> list[PublishedChange]: ...
    async def head(self) -> int:
        """The last position given (0 when none)."""
        ...

    async def cursor(self, name: str) -> int: ...
    async def set_cursor(self, name: str, position: int, at: datetime) -> None: ...
    async def take_lease(self, name: str, holder: int, until: datetime, now: datetime) -> bool:
        """Hold ``name`` until ``until`` unless another holder's lease is still running."""
        ...

    async def oldest_waiting(self, after: int | None) -> datetime | None:
        """When the oldest change without a position, or past ``after``, happened (None: none)."""
        ...

    async def purge(self, before: datetime) -> int: ...


class Webhooks(Protocol):
    async def add(self, webhook: Webhook) -> None: ...
    async def get(self, webhook_id: str) -> Webhook | None: ...
    async def all(self) -> list[Webhook]: ...
    async def disable(self, webhook_id: str, at: datetime) -> bool: ...
    async def pin(self, webhook_id: str, through: int) -> None:
        """The batch about to be sent ends at ``through``: until it is taken, every try sends it."""
        ...

    async def delivered(self, webhook_id: str, position: int) -> None: ...
    async def failed(
        self, webhook_id: str, attempts: int, next_attempt_at: datetime, error: str, pending_through: int
    ) -> None: ...
    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None: ...
    async def dead_letters(self, webhook_id: str, include_replayed: bool) -> list[DeadLetter]: ...
    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None: ...
    async def replayed(self, letter_id: str, at: datetime) -> None: ...


class ChangeStream(Protocol):
    """Where the relay publishes changes for consumers that read a stream (Redis Streams)."""

    async def publish(self, changes: Sequence[PublishedChange]) -> None: ...
    async def close(self) -> None: ...


class DeliveryFailed(Exception):
    """A webhook did not take a delivery; the message says why (status or network error)."""


@runtime_checkable  # handed to request handlers by injection, which checks the type it is given
class WebhookSender(Protocol):
    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST ``body``; raises ``DeliveryFailed`` unless the receiver answered 2xx in time."""
        ...

    async def close(self) -> None: ...
