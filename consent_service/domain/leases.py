"""The reader's side of a change signal's lease (``ports.py: ChangeSignal``): one read per lease, shared.

A token read by a read that *started* at time s may be trusted until s + lease: every writer waits a
lease after changing the token before it acknowledges, so any write acknowledged before a reader's
moment t < s + lease changed the token before s, and the read saw it.

The same reasoning lets a reader that arrives while a read is in flight wait for that read instead of
starting its own, as long as it arrives within a lease of the read's start: at 32 concurrent checks,
each starting its own read of a Redis key the moment the lease ran out exhausted the connection pool,
and most of them then failed and went to the database. Hand-written: it is the rule above in a dozen
lines, tied to this service's lease contract; no library states it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LeasedToken(Generic[T]):
    """The signal's token as ``read`` gives it, read at most once per ``lease`` and by one caller at a
    time; with ``lease`` 0 (a signal that costs nothing to read), read on every call."""

    def __init__(self, read: Callable[[], Awaitable[T | None]], lease: float) -> None:
        self._read = read
        self._lease = lease
        self._token: T | None = None
        self._read_at = float("-inf")
        self._reading: asyncio.Future[T | None] | None = None
        self._reading_at = float("-inf")

    async def current(self) -> T | None:
        now = time.monotonic()
        if self._lease <= 0:
            return await self._read()
        if now < self._read_at + self._lease:
            return self._token
        reading = self._reading
        if reading is None or now >= self._reading_at + self._lease:
            reading = self._start(now)
        # Shielded: one caller given up (a request cancelled) must not cancel the read the others wait on.
        return await asyncio.shield(reading)

    def _start(self, at: float) -> asyncio.Future[T | None]:
        reading = asyncio.ensure_future(self._read())
        self._reading, self._reading_at = reading, at

        def done(future: asyncio.Future[T | None]) -> None:
            if self._reading is future:
                self._reading = None
            if future.cancelled() or future.exception() is not None:
                return
            # Only a read that started later than the one kept replaces it: trust runs from the start.
            if at > self._read_at:
                self._token, self._read_at = future.result(), at

        reading.add_done_callback(done)
        return reading
