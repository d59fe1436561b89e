"""Change signals and feeds shared by workers: a memory-mapped file on one host, Redis across hosts.

A signal's token (and a feed's generation) is a random 64-bit value, never a counter: a flushed or
restarted Redis, or a torn read, can only ever produce a value that no worker was following, so the
worst case is a worker that forgets what it kept. The key ring follows a signal; the check cache a
feed, which with Redis also names what each write touched (``RedisFeed``).
"""

from __future__ import annotations

import logging
import mmap
import os
import secrets
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from consent_service.domain.invalidation import FeedView

log = logging.getLogger("consent_service.signals")


class HostSignal:
    """Eight bytes in a file every worker on this host maps into memory: reading costs nanoseconds,
    so every check reads it and no lease is needed."""

    lease = 0.0

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        if self._map[:8] == bytes(8):
            self._map[:8] = secrets.token_bytes(8)

    async def current(self) -> str | None:
        return self._map[:8].hex()

    async def bump(self) -> bool:
        self._map[:8] = secrets.token_bytes(8)
        return True

    async def close(self) -> None:
        self._map.close()


class RedisSignal:
    """A GET at most once per ``lease`` per worker, however many checks arrive; a missing key (flushed,
    evicted, restarted) is replaced and trusts nothing."""

    def __init__(
        self,
        url: str,
        namespace: str,
        lease: float = 0.02,
        timeout: float = 0.05,
        name: str = "generation",
    ) -> None:
        self.lease = lease
        pool = BlockingConnectionPool.from_url(
            url, max_connections=10, timeout=timeout, socket_timeout=timeout
        )
        self._redis = Redis(connection_pool=pool)
        self._key = f"consent:{namespace}:{name}"

    async def current(self) -> str | None:
        try:
            value = await self._redis.get(self._key)
            if value is None:
                await self._redis.set(self._key, secrets.token_hex(8), nx=True)
                return None
        except (RedisError, OSError) as exc:
            log.warning("change signal unreadable (%s); checks go to the database", type(exc).__name__)
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def bump(self) -> bool:
        try:
            await self._redis.set(self._key, secrets.token_hex(8))
        except (RedisError, OSError) as exc:
            log.error("change signal not bumped (%s)", type(exc).__name__)
            return False
        return True

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


class GenerationFeed:
    """A change feed that keeps no log, over a ``ChangeSignal``: every write moves the generation, so a
    worker forgets every answer it holds. The embedded default's (a host signal, read on every check);
    one host's writes are one writer's at a time anyway."""

    def __init__(self, signal: HostSignal | RedisSignal) -> None:
        self._signal = signal
        self.lease = signal.lease

    async def read(self, after: int | None) -> FeedView | None:
        generation = await self._signal.current()
        return None if generation is None else FeedView(generation)

    async def publish(self, topics: frozenset[str] | None) -> bool:
        return await self._signal.bump()

    async def close(self) -> None:
        await self._signal.close()


def _position(entry_id: bytes | str) -> int:
    """A stream entry's id (``<milliseconds>-<sequence>``) as one number that orders as the ids do."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms) << 32 | int(seq or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_id(position: int) -> str:
    return f"{position >> 32}-{position & 0xFFFFFFFF}"


class RedisFeed:
    """The topics each write touched, in a Redis stream every worker follows, and a generation key
    that moves when a write touched everything.

    Whoever finds the stream missing (first use, or Redis flushed or evicted it) makes it again and
    moves the generation in the same transaction: a worker that was following the lost stream cannot
    tell what it missed, so it must forget everything. The stream keeps about ``KEEP`` entries; a
    worker more than a cache lifetime behind starts again from the end (``check_cache.py``), so one
    that is following never needs more than the last few seconds'.

    Workers of an older version, met in a rolling upgrade, follow only the signal every write moved
    before (``consent:<namespace>:generation``): they set it when they find it missing and move it
    on every write. So every write here deletes it (an older worker then finds it missing and trusts
    nothing it kept), and a worker here counts its value as part of the generation (an older
    worker's write makes it forget everything). Once no older worker is left, the key stays deleted
    and moves no more.
    """

    KEEP = 100_000
    #: The most entries one read takes; a worker further behind than that forgets everything.
    READ = 10_000
    FIELD = "t"

    def __init__(self, url: str, namespace: str, lease: float = 0.02, timeout: float = 0.05) -> None:
        self.lease = lease
        pool = BlockingConnectionPool.from_url(
            url, max_connections=10, timeout=timeout, socket_timeout=timeout
        )
        self._redis = Redis(connection_pool=pool)
        self._generation = f"consent:{namespace}:feed-generation"
        self._stream = f"consent:{namespace}:changes"
        self._legacy = f"consent:{namespace}:generation"

    async def read(self, after: int | None) -> FeedView | None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._generation)
                pipe.get(self._legacy)
                pipe.exists(self._stream)
                pipe.xrevrange(self._stream, count=1)
                if after is not None:
                    pipe.xrange(self._stream, min=f"({_entry_id(after)}", count=self.READ)
                found = await pipe.execute()
            generation, legacy, exists, last = found[:4]
            if generation is None or not exists:
                await self._remake()
                return None
        except (RedisError, OSError) as exc:
            log.warning("change feed unreadable (%s); checks go to the database", type(exc).__name__)
            return None
        token = f"{_text(generation)}/{_text(legacy) if legacy is not None else '-'}"
        latest = _position(last[0][0]) if last else 0
        if after is None:
            return FeedView(token, latest)
        entries = found[4]
        if len(entries) >= self.READ:
            return FeedView(token, latest, complete=False)
        topics: list[str] = []
        for _, fields in entries:
            value = fields.get(self.FIELD.encode(), b"")
            topics.extend(value.decode().split())
        return FeedView(token, _position(entries[-1][0]) if entries else after, tuple(topics))

    async def publish(self, topics: frozenset[str] | None) -> bool:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._legacy)
                if topics is None:
                    pipe.set(self._generation, secrets.token_hex(8))
                else:
                    pipe.xadd(
                        self._stream,
                        {self.FIELD: " ".join(sorted(topics))},
                        maxlen=self.KEEP,
                        approximate=True,
                        nomkstream=True,
                    )
                added = (await pipe.execute())[-1]
            if added is None:
                await self._remake()
        except (RedisError, OSError) as exc:
            log.error("change feed not published (%s)", type(exc).__name__)
            return False
        return True

    async def _remake(self) -> None:
        """A new stream and a new generation, together: no worker goes on from the old stream."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._generation, secrets.token_hex(8))
            pipe.xadd(self._stream, {self.FIELD: ""}, maxlen=self.KEEP, approximate=True)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
