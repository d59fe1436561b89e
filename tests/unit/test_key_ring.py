"""The key ring: a verdict on a key is kept at most a second and never past a revocation signal, the
database is not asked per request, an outage does not lock out keys it had just verified, and a key's
last use is written in one batch, not per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.keys import ApiKey, KeyScope, key_digest
from consent_service.services.keys import KeyRing, revoke_key

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SECRET = "csk_test-secret"


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


class Signal:
    def __init__(self, moves: bool = True) -> None:
        self.token = 0
        self.moves = moves
        self.lease = 0.0

    async def current(self) -> str | None:
        return str(self.token)

    async def bump(self) -> bool:
        if self.moves:
            self.token += 1
        return self.moves

    async def close(self) -> None:
        return None


@dataclass
class Keys:
    """The keys table, counting what is asked of it."""

    by_secret: dict[str, ApiKey] = field(default_factory=dict)
    lookups: int = 0
    writes: list[dict[str, datetime]] = field(default_factory=list)

    async def by_digest(self, digest: str) -> ApiKey | None:
        self.lookups += 1
        return self.by_secret.get(digest)

    async def by_id(self, key_id: str) -> ApiKey | None:
        return next((k for k in self.by_secret.values() if k.id == key_id), None)

    async def revoke(self, key_id: str, at: datetime) -> None:
        for digest, key in self.by_secret.items():
            if key.id == key_id and key.revoked_at is None:
                self.by_secret[digest] = replace(key, revoked_at=at)

    async def used(self, last_used: Mapping[str, datetime]) -> None:
        self.writes.append(dict(last_used))


class Store:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.away = False
        #: Away as when its packets are dropped: no refusal, just no answer.
        self.hangs = False
        self.attempts = 0

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        self.attempts += 1
        if self.hangs:
            await asyncio.sleep(30)
        if self.away:
            raise StoreUnavailable("the database did not answer (test)")
        yield self

    def reading(self) -> AbstractAsyncContextManager[Any]:
        return self._transaction()

    def writing(self) -> AbstractAsyncContextManager[Any]:
        return self._transaction()


def ring_with(key: ApiKey, signal: Signal | None = None, trust: float = 60.0) -> tuple[KeyRing, Store]:
    store = Store(Keys({key_digest(SECRET): key}))
    options: dict[str, Any] = {"trust": trust}
    if signal is not None:
        options["revocations"] = signal
    return KeyRing(store, Clock(), **options), store  # type: ignore[arg-type]


KEY = ApiKey("k1", "mailing tool", frozenset({KeyScope.CHECKS}), NOW - timedelta(days=1))


async def test_a_verdict_is_kept_only_as_long_as_trusted() -> None:
    ring, store = ring_with(KEY, trust=0.05)
    assert [await ring.recognise(SECRET) for _ in range(50)] == [KEY] * 50
    assert store.keys.lookups == 1, "the database is not asked per request"
    await asyncio.sleep(0.06)
    await ring.recognise(SECRET)
    assert store.keys.lookups == 2


async def test_a_moved_revocation_signal_drops_every_verdict_at_once() -> None:
    signal = Signal()
    ring, store = ring_with(KEY, signal)
    assert await ring.recognise(SECRET) == KEY
    revoked = await revoke_key(ring, KEY.id)
    assert revoked.revoked_at == NOW
    assert await ring.recognise(SECRET) is None
    assert store.keys.lookups == 2


async def test_without_a_signal_a_revocation_answers_only_after_the_trusted_second() -> None:
    ring, _ = ring_with(KEY, Signal(moves=False), trust=0.2)
    started = time.monotonic()
    await revoke_key(ring, KEY.id)
    assert time.monotonic() - started >= 0.2


async def test_an_expired_key_is_refused_even_from_memory() -> None:
    expiring = replace(KEY, expires_at=NOW + timedelta(minutes=5))
    ring, _ = ring_with(expiring)
    assert await ring.recognise(SECRET) == expiring
    ring.clock.at = NOW + timedelta(minutes=5)  # type: ignore[attr-defined]
    assert await ring.recognise(SECRET) is None


async def test_an_unknown_key_is_not_kept() -> None:
    ring, store = ring_with(KEY)
    assert [await ring.recognise("csk_made-up") for _ in range(3)] == [None] * 3
    assert store.keys.lookups == 3


async def test_while_the_database_is_away_a_key_just_verified_still_opens_the_api() -> None:
    signal = Signal()
    ring, store = ring_with(KEY, signal, trust=0.0)
    assert await ring.recognise(SECRET) == KEY
    store.away = True
    assert await ring.recognise(SECRET) == KEY, "checks must go on answering, degraded"
    # ... but never a key the signal has since said may be revoked, nor one never verified here.
    await signal.bump()
    with pytest.raises(StoreUnavailable):
        await ring.recognise(SECRET)
    with pytest.raises(StoreUnavailable):
        await ring.recognise("csk_another")


async def test_while_the_database_is_away_it_is_asked_at_most_once_a_second() -> None:
    ring, store = ring_with(KEY, Signal(), trust=1.0)
    await ring.recognise(SECRET)
    store.hangs = True
    ring._seen[key_digest(SECRET)].at -= 2  # the verdict is past its second
    started = time.monotonic()
    assert [await ring.recognise(SECRET) for _ in range(20)] == [KEY] * 20
    # One request waited for the database (0.2 s at most); the other nineteen did not ask.
    assert time.monotonic() - started < 0.5
    assert store.attempts == 2


async def test_uses_are_written_in_one_batch_and_kept_when_the_database_is_away() -> None:
    other = ApiKey("k2", "form", frozenset({KeyScope.FORMS}), NOW)
    ring, store = ring_with(KEY)
    store.keys.by_secret[key_digest("csk_other")] = other
    for _ in range(10):
        await ring.recognise(SECRET)
        await ring.recognise("csk_other")
    assert store.keys.writes == []
    store.away = True
    with pytest.raises(StoreUnavailable):
        await ring.write_uses()
    store.away = False
    await ring.write_uses()
    assert store.keys.writes == [{"k1": NOW, "k2": NOW}]
    await ring.write_uses()
    assert len(store.keys.writes) == 1, "nothing new, nothing written"
