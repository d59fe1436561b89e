"""The replica watermark in Redis: the WAL position every acknowledged write needs a replica to have
replayed before it may answer a check (``domain/replication.py``).

It only ever rises (an atomic maximum, in a Lua script), and it must never fall below a write that was
acknowledged, even when Redis loses it: flushed, evicted, restarted empty. A lost key reads as
unknown (checks go to the primary), and it is rebuilt only from a position read *after* the loss was
seen, which covers every commit before it. The rebuild is why this is hand-written rather than a
plain ``SET`` of the maximum:

1. ``SET key "?<nonce>:<zeros>" NX PX`` puts a marker in the empty key; readers take a marker as
   unknown. Writers that arrive meanwhile fold their positions into the marker.
2. The primary's position now is read: past every commit so far, the lost ones included.
3. The marker is replaced by the larger of that and what was folded in, but only if it is still this
   rebuild's own marker; if Redis lost it again, it lost it after step 1 and this rebuild proves
   nothing, so it reports failure and the writer falls back.

The marker expires (``MARKER_MS``), so a rebuild that dies half-way leaves an empty key, not one
that sends every check to the primary for ever. Positions are 16 hex digits, so Lua compares them
exactly as strings (its numbers are doubles).

What this cannot see is a Redis that comes back with an *older* value (a snapshot restored, a failover
to a Redis replica that missed the last writes): as for the change signal, run Redis so that it does
not, or leave the replica unset.
"""

from __future__ import annotations

import logging
import secrets

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.replication import Position

log = logging.getLogger("consent_service.replica")

#: How long a rebuild's marker may stand before Redis drops it (a rebuild takes one primary read).
MARKER_MS = 2_000
#: Rebuilds tried in a row before a writer gives up on the watermark and falls back.
ATTEMPTS = 3

_RAISE = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if string.sub(v, 1, 1) == '?' then
  local sep = string.find(v, ':', 1, true)
  if ARGV[1] > string.sub(v, sep + 1) then
    redis.call('SET', KEYS[1], string.sub(v, 1, sep) .. ARGV[1], 'KEEPTTL')
  end
  return 1
end
if ARGV[1] > v then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""

_FINISH = """
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
local folded = string.sub(v, #ARGV[1] + 1)
if folded > ARGV[2] then redis.call('SET', KEYS[1], folded) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""


def _text(position: int) -> str:
    return f"{position:016X}"


class RedisWatermark:
    """One GET per check; a write's ``raise_to`` is one script call (three round trips when rebuilding)."""

    def __init__(self, url: str, namespace: str, timeout: float = 0.05) -> None:
        # Read on every check that misses the answer cache, so the pool is sized for concurrent checks;
        # a check that cannot get a connection in time is answered by the primary, never wrongly.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=timeout, socket_timeout=timeout
        )
        self._redis = Redis(connection_pool=pool)
        #: The Redis key it is kept under (this deployment's namespace).
        self.key = f"consent:{namespace}:replica-watermark"
        self._raise = self._redis.register_script(_RAISE)
        self._finish = self._redis.register_script(_FINISH)

    async def current(self) -> int | None:
        try:
            value = await self._redis.get(self.key)
        except (RedisError, OSError) as exc:
            log.warning("replica watermark unreadable (%s); checks go to the primary", type(exc).__name__)
            return None
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return None if text.startswith("?") else int(text, 16)

    async def raise_to(self, position: int, primary: Position) -> bool:
        try:
            for _ in range(ATTEMPTS):
                if await self._raise(keys=[self.key], args=[_text(position)]):
                    return True
                if await self._rebuild(primary):
                    return True
        except (RedisError, OSError, StoreUnavailable, TimeoutError) as exc:
            log.error("replica watermark not raised (%s)", type(exc).__name__)
            return False
        log.error("replica watermark not rebuilt after %d tries", ATTEMPTS)
        return False

    async def _rebuild(self, primary: Position) -> bool:
        """The watermark was lost: rebuilt from the primary's position read after the marker is set.
        False if the marker is not ours (someone else is rebuilding: the caller raises again) or was
        lost before it could be replaced."""
        marker = f"?{secrets.token_hex(8)}:"
        if not await self._redis.set(self.key, marker + _text(0), nx=True, px=MARKER_MS):
            return False
        now = await primary()
        return bool(await self._finish(keys=[self.key], args=[marker, _text(now)]))

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)
