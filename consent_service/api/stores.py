"""A Litestar store that keeps working when Redis does not.

Rate-limit counters and staff sessions live in Redis so every worker shares them. They are not the
record: when Redis is down, a family's unsubscribe page must still open and a staff member's session
still work, so this store falls back to a local one (per process for rate limits, the data dir's
files for sessions) until Redis answers again. Litestar has no such store of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType
from typing import TypeVar

from litestar.stores.base import Store
from litestar.stores.redis import RedisStore
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds between attempts to go back to Redis once it has failed, so an outage costs one timeout
#: per interval rather than one per request.
RETRY_INTERVAL = 5.0


class FallbackStore(Store):
    def __init__(self, primary: RedisStore, fallback: Store, name: str) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = name
        self._failed_at: float | None = None

    async def _call(self, use: Callable[[Store], Awaitable[T]]) -> T:
        failed_at = self._failed_at
        if failed_at is None or time.monotonic() - failed_at >= RETRY_INTERVAL:
            try:
                result = await use(self.primary)
            except (RedisError, OSError) as exc:
                if self._failed_at is None:
                    log.warning(
                        "Redis unreachable for the %s store (%s); using local storage", self.name, exc
                    )
                self._failed_at = time.monotonic()
            else:
                if self._failed_at is not None:
                    log.warning("Redis is back for the %s store", self.name)
                    self._failed_at = None
                return result
        return await use(self.fallback)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._call(lambda store: store.set(key, value, expires_in))

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._call(lambda store: store.get(key, renew_for))

    async def delete(self, key: str) -> None:
        await self._call(lambda store: store.delete(key))

    async def delete_all(self) -> None:
        await self._call(lambda store: store.delete_all())

    async def exists(self, key: str) -> bool:
        return await self._call(lambda store: store.exists(key))

    async def expires_in(self, key: str) -> int | None:
        return await self._call(lambda store: store.expires_in(key))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.primary.__aexit__(exc_type, exc_val, exc_tb)
