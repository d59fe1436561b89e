"""The answer cache and the signalling store: no cached answer survives a committed write."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from consent_service.adapters.check_cache import AnswerCache, SignallingStore
from consent_service.domain.decision import Answer, Reason

ALLOW = Answer(True, Reason.CONSENT_GRANTED)
KEY = ("fingerprint", "", "marketing", "email")


class Signal:
    def __init__(self, bumps: bool = True, lease: float = 0.0) -> None:
        self.token = 0
        self.bumps = bumps
        self.lease = lease
        self.reads = 0

    async def current(self) -> str | None:
        self.reads += 1
        return str(self.token)

    async def bump(self) -> bool:
        if self.bumps:
            self.token += 1
        return self.bumps

    async def close(self) -> None:
        return None


class Store:
    """Stands in for the database: counts commits."""

    def __init__(self) -> None:
        self.commits = 0

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        yield object()
        self.commits += 1

    def reading(self) -> AbstractAsyncContextManager[Any]:
        return self._transaction()

    def writing(self) -> AbstractAsyncContextManager[Any]:
        return self._transaction()

    async def ping(self) -> None:
        return None

    async def durability(self) -> list[str]:
        return []

    async def dispose(self) -> None:
        return None


def answers(signal: Signal, **options: float) -> AnswerCache:
    """A cache whose worker has just heard from the database (trust is tested on its own below)."""
    options.setdefault("trust", math.inf)
    cache = AnswerCache(signal, **options)  # type: ignore[arg-type]
    cache.database_answered()
    return cache


def test_memory_is_trusted_only_while_the_database_answers() -> None:
    cache = AnswerCache(Signal(), trust=60.0)
    cache.put(KEY, "0", ALLOW)
    assert cache.get(KEY, "0") is None  # this worker has not heard from the database yet
    cache.database_answered()
    assert cache.get(KEY, "0") is ALLOW
    quick = AnswerCache(Signal(), trust=0.0)
    quick.put(KEY, "0", ALLOW)
    quick.database_answered()
    time.sleep(0.001)
    assert quick.get(KEY, "0") is None  # silence from the database for longer than the trust


async def test_an_answer_is_served_only_under_the_token_it_was_stored_with() -> None:
    signal = Signal()
    cache = answers(signal)
    token = await signal.current()
    cache.put(KEY, token, ALLOW)
    assert cache.get(KEY, await signal.current()) is ALLOW
    await signal.bump()
    assert cache.get(KEY, await signal.current()) is None


async def test_an_unreadable_signal_trusts_nothing() -> None:
    cache = answers(Signal())
    cache.put(KEY, None, ALLOW)
    cache.put(KEY, "0", ALLOW)
    assert cache.get(KEY, None) is None


def test_entries_expire_and_degraded_answers_are_never_kept() -> None:
    cache = answers(Signal(), ttl=0.0)
    cache.put(KEY, "0", ALLOW)
    time.sleep(0.001)
    assert cache.get(KEY, "0") is None
    fresh = answers(Signal())
    fresh.put(KEY, "0", Answer(False, Reason.STORE_UNAVAILABLE, degraded=True))
    assert fresh.get(KEY, "0") is None


def test_the_cache_is_bounded() -> None:
    cache = answers(Signal(), capacity=2)
    for i in range(3):
        cache.put((str(i), "", "marketing", "email"), "0", ALLOW)
    assert cache.get(("0", "", "marketing", "email"), "0") is None
    assert cache.get(("2", "", "marketing", "email"), "0") is ALLOW


def test_expired_answers_leave_memory_without_waiting_for_the_capacity() -> None:
    """A worker checking ever-new addresses keeps only the last ``ttl`` seconds of answers, not
    ``capacity`` of them: the cache stays the size of its use, not of its limit."""
    cache = answers(Signal(), ttl=0.02)
    for i in range(100):
        cache.put((str(i), "", "marketing", "email"), "0", ALLOW)
    assert cache.held() == 100
    time.sleep(0.03)
    cache.put(("fresh", "", "marketing", "email"), "0", ALLOW)
    assert cache.held() == 1
    # An answer stored again moves behind the others, so it cannot hold expired ones in memory.
    cache = answers(Signal(), ttl=0.05)
    for i in range(100):
        cache.put((str(i), "", "marketing", "email"), "0", ALLOW)
    time.sleep(0.03)
    cache.put(("0", "", "marketing", "email"), "0", ALLOW)
    time.sleep(0.03)
    cache.put(("fresh", "", "marketing", "email"), "0", ALLOW)
    assert cache.held() == 2
    assert cache.get(("0", "", "marketing", "email"), "0") is ALLOW


async def test_a_committed_write_changes_the_signal_before_it_returns() -> None:
    signal, inner = Signal(), Store()
    store = SignallingStore(inner, signal, hold=1.0)
    async with store.writing():
        assert signal.token == 0
    assert (inner.commits, signal.token) == (1, 1)


async def test_a_failed_write_does_not_change_the_signal() -> None:
    signal = Signal()
    store = SignallingStore(Store(), signal, hold=1.0)
    with pytest.raises(RuntimeError):
        async with store.writing():
            raise RuntimeError("refused")
    assert signal.token == 0


async def test_a_writer_that_cannot_change_the_signal_holds_its_answer_for_the_cache_lifetime() -> None:
    store = SignallingStore(Store(), Signal(bumps=False), hold=0.05)
    started = time.monotonic()
    async with store.writing():
        pass
    assert time.monotonic() - started >= 0.05


async def test_a_leased_token_is_read_once_per_lease_and_never_outlives_an_acknowledged_write() -> None:
    signal = Signal(lease=0.05)
    cache, store = answers(signal), SignallingStore(Store(), signal, hold=1.0)
    token = await cache.token()
    cache.put(KEY, token, ALLOW)
    for _ in range(100):
        assert cache.get(KEY, await cache.token()) is ALLOW
    assert signal.reads == 1
    async with store.writing():
        pass  # a withdrawal commits; leaving the block is its acknowledgement
    assert cache.get(KEY, await cache.token()) is None
    assert signal.reads == 2
