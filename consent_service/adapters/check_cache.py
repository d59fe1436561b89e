"""The check cache: answers kept in this worker's memory between checks, trusted only under the change
signal they were stored with, and the store that moves that signal on every committed write.

DESIGN §4.1: a marketing *allow* must never outlive an acknowledged opt-out. Every committed write
changes the signal before it is acknowledged (see ``SignallingStore``), and a cached answer is used
only if the signal it was stored under is still current, so no answer computed before an opt-out
is served after its acknowledgement, on any worker sharing the signal. Entries also expire after
``ttl`` seconds: that bounds how long a writer must hold its acknowledgement when it cannot change
the signal (Redis unreachable from it but not from the readers).

A signal that costs a round trip to read (Redis) is read at most once per its ``lease`` by each
worker: a token read at time t is trusted until t + lease, and every writer waits a lease after its
change before acknowledging, so no lease taken before a change outlives the change's acknowledgement.
The times are this host's monotonic clock; across hosts only the clocks' rates need agree.

Answers are also trusted only while the database has answered this worker within ``trust``
seconds: a worker answering from memory alone would not notice the database had gone, and while
it is gone no check may say "allowed" for marketing (DESIGN §4.2). So at least once per ``trust``
a check goes to the database, and once it has not answered for ``trust`` seconds nothing is served
from memory until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from consent_service.domain.decision import Answer
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.leases import LeasedToken
from consent_service.domain.ports import AnswerKey, ChangeSignal, Store, UnitOfWork

log = logging.getLogger("consent_service.answers")


@dataclass(slots=True)
class AnswerCache:
    signal: ChangeSignal
    ttl: float = 2.0
    capacity: int = 200_000
    _entries: OrderedDict[AnswerKey, tuple[str, float, Answer]] = field(default_factory=OrderedDict)
    #: Seconds an answer from memory is trusted after the database last answered this worker.
    trust: float = 0.25
    _database_seen: float = float("-inf")
    _token: LeasedToken = field(init=False)

    def __post_init__(self) -> None:
        self._token = LeasedToken(self.signal.current, self.signal.lease)

    def database_answered(self) -> None:
        self._database_seen = time.monotonic()

    async def token(self) -> str | None:
        """The signal's token, read again only once the last read's lease has run out, and then by one
        check for all that arrive while it is read (``domain/leases.py``)."""
        return await self._token.current()

    def get(self, key: AnswerKey, token: str | None) -> Answer | None:
        if token is None or time.monotonic() - self._database_seen > self.trust:
            return None
        entry = self._entries.get(key)
        if entry is None or entry[0] != token or entry[1] < time.monotonic():
            return None
        return entry[2]

    def put(self, key: AnswerKey, token: str | None, answer: Answer) -> None:
        """Store under the token read *before* the database was asked, never one read after."""
        if token is None or answer.degraded:
            return
        now = time.monotonic()
        self._entries[key] = (token, now + self.ttl, answer)
        # Entries are kept in the order they expire (every one lives ``ttl``), so the expired ones are
        # at the front: dropping them here keeps the cache to the answers of the last ``ttl`` seconds
        # instead of letting it fill to ``capacity`` with answers nobody may use any more.
        self._entries.move_to_end(key)
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest[1] >= now and len(self._entries) <= self.capacity:
                break
            self._entries.popitem(last=False)

    def held(self) -> int:
        """How many answers are kept (not ``__len__``: an empty cache must not test false and go unused)."""
        return len(self._entries)

    async def keep_trust(self, store: Store, every: float = 0.1) -> None:
        """Asks the database every ``every`` seconds whether it answers, so the cache's trust in it
        (0.25 s) is kept up by this, not by checks: under load a run of cache hits must not make
        every check go to the database at once just to learn it is still there."""
        while True:
            with contextlib.suppress(StoreUnavailable, TimeoutError):
                async with asyncio.timeout(every * 2):
                    await store.ping()
                self.database_answered()
            await asyncio.sleep(every)


class SignallingStore:
    """A store whose every committed write changes the signal before the caller can acknowledge it."""

    def __init__(self, inner: Store, signal: ChangeSignal, hold: float) -> None:
        self._inner = inner
        self._signal = signal
        self._hold = hold

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._inner.reading()

    def writing(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._writing()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[UnitOfWork]:
        async with self._inner.writing() as uow:
            yield uow
        if await self._signal.bump():
            if self._signal.lease > 0:
                await asyncio.sleep(self._signal.lease)
        else:
            # Readers may still trust answers from before this commit, but none for longer than the
            # cache's time to live: wait that out rather than acknowledge too early.
            log.error(
                "holding a write's acknowledgement for %.1f s: the change signal is unreachable", self._hold
            )
            await asyncio.sleep(self._hold)

    async def ping(self) -> None:
        await self._inner.ping()

    async def durability(self) -> list[str]:
        return await self._inner.durability()

    async def dispose(self) -> None:
        await self._inner.dispose()
        await self._signal.close()
