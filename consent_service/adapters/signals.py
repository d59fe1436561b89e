"""Change signals shared by workers: a memory-mapped file on one host, Redis across hosts.

The token is a random 64-bit value, never a counter: a flushed or restarted Redis, or a torn read,
can only ever produce a value that no cached answer was stored under, so the worst case is a miss.
"""

from __future__ import annotations

import logging
import mmap
import os
import secrets
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

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
