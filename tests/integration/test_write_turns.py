"""On the embedded default, two workers' writers take turns: a busy worker does not starve the other.

Each worker has its own store over the same SQLite file. Two stores in one process stand for them
here: each has its own open file for the turn (``db/turns.py``), so they exclude each other exactly as
two processes do, and SQLite's own lock sits between their connections as between workers'.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from consent_service.adapters.sealing import AesGcmSealer
from consent_service.db.engine import SqlStore
from consent_service.domain.errors import StoreUnavailable

#: Writes the busy worker keeps queued, each holding the write lock this long (a registration's commit
#: on this machine takes about 10 ms), and writes the quiet worker makes one after another meanwhile.
QUEUED, HOLD_S, QUIET = 200, 0.005, 8


async def test_a_write_from_a_quiet_worker_is_served_in_turn_not_after_a_busy_workers_queue(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}"
    sealer = AesGcmSealer(secrets.token_bytes(32))
    busy, quiet = SqlStore(url, sealer=sealer), SqlStore(url, sealer=sealer)
    busy_done = 0
    overtaken: list[int] = []

    async def busy_write() -> None:
        nonlocal busy_done
        async with busy.writing():  # BEGIN IMMEDIATE: the database's write lock from here to commit
            await asyncio.sleep(HOLD_S)
        busy_done += 1

    try:
        queue = [asyncio.create_task(busy_write()) for _ in range(QUEUED)]
        while busy_done < 3:
            await asyncio.sleep(0.001)
        for _ in range(QUIET):
            before = busy_done
            async with quiet.writing():
                await asyncio.sleep(HOLD_S)
            overtaken.append(busy_done - before)
        left = QUEUED - busy_done
        await asyncio.gather(*queue)
    finally:
        await busy.dispose()
        await quiet.dispose()

    # Before the turn, the quiet worker's writer slept in SQLite's busy handler (up to 100 ms a try)
    # and lost nearly every race to the busy worker's next writer: one of its writes could wait for
    # dozens of the other's, a whole queue's worth. In turn, each waits for the one writing and the one
    # already asking (and, on a machine busy enough to be slow to wake a thread, a couple more).
    assert max(overtaken) <= 4, overtaken
    assert left > 0, "the busy worker's queue ran dry before the quiet worker was done: nothing was shown"


async def test_a_writer_that_gives_up_waiting_for_its_turn_leaves_the_turn_free(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}"
    sealer = AesGcmSealer(secrets.token_bytes(32))
    holder, impatient = SqlStore(url, timeout=1, sealer=sealer), SqlStore(url, timeout=0.1, sealer=sealer)
    try:
        async with holder.writing():
            # Its thread goes on waiting for the lock after the request has been answered 503.
            with pytest.raises(StoreUnavailable):
                async with impatient.writing():
                    pass
        # Once the holder is done, the abandoned wait takes the lock and must give it straight back,
        # not keep it until its own worker next writes: the holder writes again first.
        await asyncio.sleep(0.05)
        for store in (holder, impatient, holder):
            async with store.writing():
                pass
    finally:
        await holder.dispose()
        await impatient.dispose()
