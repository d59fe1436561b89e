"""Writers of an embedded (SQLite) deployment take turns across processes, first come first served.

SQLite lets one connection write at a time. Within a worker, writers already queue for its one
writing connection (``db/engine.py``). Between workers they used to meet only at SQLite's own lock,
whose busy handler polls: the waiter sleeps 1, 2, 5 ... up to 100 ms between tries. A worker with a
queue of writes takes the lock again within microseconds of each commit, so the other worker's
writer, asleep in the busy handler, lost nearly every race until that queue ran dry. Measured with
two workers and 16 connections registering people: p50 93 ms but p99 1.9 s and a worst of 2.1 s (one
worker alone: p99 239 ms); on a busier machine some writes waited past the database timeout and were
answered 503.

A blocked ``flock`` is woken by the kernel the moment the lock is let go. The waiting worker's thread
is already in the kernel, while the releasing worker's next writer has a round trip through its event
loop to make before it asks again, so the lock passes to the waiter: turns alternate between busy
workers. Hand-written because neither SQLite (its busy handler is not settable from Python's
``sqlite3``) nor aiosqlite offers a fair lock; ``flock`` is the operating system's.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path


class WriteTurn:
    """An exclusive ``flock`` on a file beside the database, taken by one writer at a time per process.

    The file is opened on first use, in the process that writes: a lock inherited across a fork would
    be shared with the parent (``flock`` belongs to the open file, not the process).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        #: ``flock`` blocks, so it waits in a thread of its own, never the event loop's (made on first use
        #: and again after ``close``: a disposed store may be used again).
        self._thread: ThreadPoolExecutor | None = None
        #: One writer of this process at a time asks for the lock: two asking through the same open file
        #: would both be given it.
        self._local = asyncio.Lock()

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write-turn")
        return self._fd

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        await self._local.acquire()
        try:
            fd = self._file()
            taking = asyncio.get_running_loop().run_in_executor(self._thread, fcntl.flock, fd, fcntl.LOCK_EX)
        except BaseException:
            self._local.release()
            raise
        try:
            await asyncio.shield(taking)
        except BaseException:
            # Given up while waiting (the transaction's timeout): the thread takes the lock anyway when
            # its turn comes. Let it go then, and only then let this process's next writer ask.
            def give_back(done: asyncio.Future[None]) -> None:
                if not done.cancelled() and done.exception() is None:
                    with suppress(OSError):  # the store was disposed meanwhile: its file is closed
                        fcntl.flock(fd, fcntl.LOCK_UN)
                self._local.release()

            taking.add_done_callback(give_back)
            raise
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            self._local.release()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
