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
from typing import Any

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

    The replay position is asked on one pooled connection and the check reads on another: both must
    reach the same server, so ``CONSENT_REPLICA_URL`` names one standby, not a balancer over several.
    """

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
        #: The replica and Redis must both answer within this, or the primary answers.
        self._probe_timeout = probe_timeout
        self._counted = counted
        self._resting_until = float("-inf")

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._reading()

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[UnitOfWork]:
        if not await self._caught_up():
            async with self._primary.reading() as uow:
                yield uow
            return
        try:
            async with self._replica.reading() as uow:
                yield uow
        except exc.DBAPIError as error:
            if _cancelled_by_replay(error):
                raise StoreUnavailable("replay cancelled the replica's read") from error
            raise

    async def _caught_up(self) -> bool:
        """Asks the replica how far it has replayed and Redis for the watermark, side by side.

        Waited for, never cancelled: cancelling a query on a hung server holds the caller while the
        driver cleans up (about 2 s), so a replica that does not answer in time is left to finish on
        its own (within the store's timeout) while the primary answers, and is not asked again for
        ``REST`` seconds."""
        started = time.monotonic()
        if started < self._resting_until:
            self._counted(AWAY)
            return False
        replayed = asyncio.ensure_future(self._replica.wal_position(replayed=True))
        watermark = asyncio.ensure_future(self._watermark.current())
        replayed.add_done_callback(_settled)
        watermark.add_done_callback(_settled)
        await asyncio.wait((replayed, watermark), timeout=self._probe_timeout)
        if not replayed.done() or replayed.exception() is not None:
            log.warning("replica not answering; checks go to the primary for %g s", REST)
            self._resting_until = started + REST
            self._counted(AWAY)
            return False
        position = replayed.result()
        mark = watermark.result() if watermark.done() and watermark.exception() is None else None
        if replica_may_answer(position, mark):
            self._counted(REPLICA)
            return True
        self._counted(UNKNOWN if mark is None or position is None else BEHIND)
        return False


def _settled(task: asyncio.Future[Any]) -> None:
    """A probe left to finish on its own: its outcome is no longer wanted, and asyncio would log an
    error nobody retrieved."""
    if not task.cancelled():
        task.exception()


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
