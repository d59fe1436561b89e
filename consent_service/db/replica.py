"""Checks answered from a PostgreSQL streaming replica, never from one that is behind
(``CONSENT_REPLICA_URL``; the rule is ``domain/replication.py: replica_may_answer``).

Two halves, composed in ``bootstrap.py``:

* ``WatermarkingStore`` wraps the primary: after each write commits, and before the caller can
  acknowledge it, the primary's WAL position is read and the shared watermark raised to it.
* ``ReplicaReads`` is where checks read: it asks the replica how far it has replayed while it asks
  for the watermark (one round trip each, side by side), and reads from the replica only when it has
  replayed past the watermark; otherwise, or if anything is unknown, from the primary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import exc

from consent_service.db.engine import SqlStore
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.ports import Store, UnitOfWork
from consent_service.domain.replication import Watermark, replica_may_answer

log = logging.getLogger("consent_service.replica")

#: Why a check's read went where it went: the counts ``consent_check_reads_total`` shows.
REPLICA, BEHIND, UNKNOWN, AWAY = "replica", "behind", "watermark_unknown", "replica_away"
#: Seconds a replica that failed to answer is left alone: a down replica costs checks one try a second.
REST = 1.0
#: How often a writer that could not raise the watermark asks the replica whether it has caught up.
POLL = 0.005


class ReplicaReads:
    """The ``Reads`` of checks: the replica when it has replayed past the watermark, else the primary.

    The replay position is asked on the connection the check then reads on, so a URL that reaches
    several standbys (a balancer) still compares the position of the one read from."""

    def __init__(
        self,
        primary: Store,
        replica: SqlStore,
        watermark: Watermark,
        *,
        probe_timeout: float,
        counted: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._primary = primary
        self._replica = replica
        self._watermark = watermark
        #: The replica (a connection and its replay position) and Redis must answer within this, or
        #: the primary answers.
        self._probe_timeout = probe_timeout
        self._counted = counted
        self._resting_until = float("-inf")

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._reading()

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[UnitOfWork]:
        started = time.monotonic()
        if started >= self._resting_until:
            answered = False
            try:
                async with asyncio.timeout(self._probe_timeout) as budget, self._replica.reading() as uow:
                    replayed, watermark = await asyncio.gather(uow.replayed(), self._watermark.current())
                    if replica_may_answer(replayed, watermark):
                        budget.reschedule(None)  # the budget was for the probe; the reads have the check's
                        self._counted(REPLICA)
                        answered = True
                        yield uow
                        return
                self._counted(UNKNOWN if watermark is None or replayed is None else BEHIND)
            except (StoreUnavailable, TimeoutError, exc.DBAPIError) as error:
                if answered:
                    if _cancelled_by_replay(error):
                        raise StoreUnavailable("replay cancelled the replica's read") from error
                    raise
                log.warning("replica not answering (%s); checks go to the primary", type(error).__name__)
                self._resting_until = started + REST
                self._counted(AWAY)
        else:
            self._counted(AWAY)
        async with self._primary.reading() as uow:
            yield uow


def _cancelled_by_replay(error: Exception) -> bool:
    """Replay cancels a standby's query it conflicts with (SQLSTATE class 40): to the check the replica
    was away (a degraded answer), never a server error."""
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, exc.DBAPIError) and str(state or "").startswith("40")


class WatermarkingStore:
    """The primary, whose every committed write raises the watermark before it can be acknowledged.

    If the watermark cannot be raised (Redis unreachable from this worker but perhaps not from the
    others, who would trust the old one), the write is acknowledged only once the replica itself has
    replayed it; if that cannot be seen within ``hold`` seconds either, the caller is told the database
    did not answer (503): the write stands, but nobody is told it took effect while a replica that
    lacks it might still answer a check.
    """

    def __init__(self, inner: SqlStore, replica: SqlStore, watermark: Watermark, hold: float) -> None:
        self._inner = inner
        self._replica = replica
        self._watermark = watermark
        self._hold = hold

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._inner.reading()

    def writing(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._writing()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[UnitOfWork]:
        async with self._inner.writing() as uow:
            yield uow
        # Read after the commit returned: the insert position is then at or past its commit record
        # (whatever synchronous_commit says). Read on another pooled connection: any connection's
        # reading is as good, as the position only grows.
        position = await self._primary_position()
        if await self._watermark.raise_to(position, self._primary_position):
            return
        if await self._replica_has(position):
            log.warning("replica watermark not raised; the write was acknowledged once the replica had it")
            return
        raise StoreUnavailable(
            "the write was recorded, but neither the replica watermark nor the replica could be told; "
            "it is not acknowledged while a replica that lacks it could answer checks"
        )

    async def _primary_position(self) -> int:
        position = await self._inner.wal_position()
        if position is None:
            raise StoreUnavailable("the primary reported no WAL position")
        return position

    async def _replica_has(self, position: int) -> bool:
        try:
            async with asyncio.timeout(self._hold):
                while True:
                    if replica_may_answer(await self._replica.wal_position(replayed=True), position):
                        return True
                    await asyncio.sleep(POLL)
        except (StoreUnavailable, TimeoutError, exc.DBAPIError):
            return False

    async def ping(self) -> None:
        await self._inner.ping()

    async def durability(self) -> list[str]:
        return await self._inner.durability()

    async def dispose(self) -> None:
        await self._inner.dispose()
        await self._replica.dispose()
        await self._watermark.close()
