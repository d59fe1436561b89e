"""Engines and transactions: durable commits on PostgreSQL and SQLite alike (DESIGN §4.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent_service.db import wal
from consent_service.db.repositories import SqlUnitOfWork
from consent_service.db.turns import WriteTurn
from consent_service.domain.changes import Change
from consent_service.domain.errors import ConcurrentChange, InvalidInput, StoreUnavailable
from consent_service.domain.sealing import Sealer

#: Errors that mean "the database did not answer", as opposed to "the database said no".
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError)
#: Statement parameters are people's details: a database error's text (which ends up in a log line
#: when it is unplanned) names the statement but never the values.
HIDE_PARAMETERS = True


def _away(error: Exception) -> bool:
    """The database is away, not the request at fault: the driver lost or never made its connection
    (``UNAVAILABLE``), or PostgreSQL refused for a state of its own: a connection exception (SQLSTATE
    class 08), too many connections (53), an operator's shutdown or a server starting up (57), or a
    database closed to connections (55000, which SQLAlchemy reports as a bare ``DBAPIError``). So a
    503 and a degraded answer, never a 500."""
    if isinstance(error, UNAVAILABLE):
        return True
    state = str(getattr(getattr(error, "orig", None), "sqlstate", None) or "")
    return state[:2] in ("08", "53", "57") or state == "55000"


def _refused_value(error: exc.DBAPIError) -> bool:
    """PostgreSQL refused a value SQLite would have stored (SQLSTATE class 22, "data exception": a NUL
    character, a string longer than its column): the request's fault, so a 422, never a 500."""
    return str(getattr(error.orig, "sqlstate", None) or "").startswith("22")


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    # SQLite lets one connection write at a time. Writers of one worker queue for its one writing
    # connection, in order, instead of each taking a connection of their own and contending for the
    # file's lock: SQLite's busy handler retries on a back-off of up to 100 ms, so among many
    # contenders one can lose every retry until its transaction times out (503s under a sustained mix).
    # Between workers the same holds, so their writers also take turns (``db/turns.py``).
    #
    # Readers keep a fixed set of connections: each has a thread of its own in aiosqlite, and opening
    # and closing overflow connections under load started and ended threads by the thousand, each
    # leaving the allocator's memory a little more fragmented (a worker's memory crept up with it).
    pool = {"pool_size": 1, "max_overflow": 0} if immediate else {"pool_size": 8, "max_overflow": 0}
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=HIDE_PARAMETERS, **pool)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, say BEGIN, so that writers can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another writer committed in between; taking the write lock at BEGIN makes writers queue.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _commits_wait_for_the_flush(dbapi_connection: Any, _record: Any) -> None:
    """An acknowledged opt-out must survive a crash, so every commit on a connection of ours waits for
    its WAL flush: a session's own setting outranks the server's default, a database's or a role's,
    and a reload of the configuration. Set once a connection, outside any transaction (it would be
    undone with one rolled back), rather than once a transaction (a round trip on every write).

    ``durability`` still reads what the server itself says (``reset_val``), to name a server that
    would lose others' commits."""
    dbapi_connection.run_async(lambda connection: connection.execute("SET synchronous_commit = on"))


CommitListener = Callable[[list[Change]], None]


class SqlStore:
    """The ``Store`` port on SQLAlchemy: a reading and a writing transaction, each a unit of work.

    A writing transaction writes what it changed to the outbox just before it commits, then tells the
    ``listeners`` (metrics, the relay's wake-up) once the commit has returned.
    """

    def __init__(
        self, url: str, listeners: Sequence[CommitListener] = (), timeout: float = 5.0, *, sealer: Sealer
    ) -> None:
        self.url = url
        #: Seals and opens names and contact details; no store is made without one, so none writes them plain.
        self.sealer = sealer
        self.listeners = list(listeners)
        #: A transaction not done in this many seconds (a hung or frozen database) is given up.
        self.timeout = timeout
        self.dialect = make_url(url).get_backend_name()
        self._writer_synchronous: int | None = None
        #: Writers of every process take turns (``db/turns.py``); PostgreSQL needs none.
        self._turn: WriteTurn | None = None
        if self.dialect == "sqlite":
            self._reader = _sqlite_engine(url, immediate=False)
            self._writer = _sqlite_engine(url, immediate=True)
            database = make_url(url).database
            if database and database != ":memory:" and "mode=memory" not in url:
                self._turn = WriteTurn(Path(f"{database}.write-turn"))
        else:
            # No pre-ping: a connection the server dropped fails once (a degraded, closed answer) and
            # SQLAlchemy then replaces the whole pool. Readers run in autocommit: each statement sees
            # every commit before it, which is all a check needs, without BEGIN and ROLLBACK round trips.
            #
            # A fixed pool, no overflow: overflow connections are closed as soon as they are returned,
            # so under 32 concurrent requests PostgreSQL saw about a hundred new connections a second
            # (a fork and an authentication each). A request beyond the pool waits for a connection
            # instead; 20 a worker keeps two workers and the tools well under max_connections (100).
            self._writer = create_async_engine(
                url, pool_size=20, max_overflow=0, hide_parameters=HIDE_PARAMETERS
            )
            self._reader = self._writer.execution_options(isolation_level="AUTOCOMMIT")
            event.listen(self._writer.sync_engine, "connect", _commits_wait_for_the_flush)

    @asynccontextmanager
    async def _transaction(self, engine: AsyncEngine, write: bool) -> AsyncIterator[SqlUnitOfWork]:
        turn = self._turn.held() if write and self._turn is not None else nullcontext()
        try:
            async with asyncio.timeout(self.timeout), turn, engine.begin() as connection:
                uow = SqlUnitOfWork(connection, self.dialect, self.sealer)
                yield uow
                if write:
                    await uow.write_outbox()
        except exc.IntegrityError as error:
            raise ConcurrentChange("a concurrent change got there first; nothing was recorded") from error
        except TimeoutError as error:
            raise StoreUnavailable(f"the database did not answer within {self.timeout:g} s") from error
        except (*UNAVAILABLE, exc.DBAPIError) as error:
            if _away(error):
                raise StoreUnavailable(f"the database did not answer ({type(error).__name__})") from error
            if isinstance(error, exc.DBAPIError) and _refused_value(error):
                message = "a value is too long to store or holds a character that cannot be stored (NUL)"
                raise InvalidInput.one("request", message) from error
            raise
        if write and uow.changes:
            for listener in self.listeners:
                listener(uow.changes)

    def reading(self) -> AbstractAsyncContextManager[SqlUnitOfWork]:
        return self._transaction(self._reader, write=False)

    def writing(self) -> AbstractAsyncContextManager[SqlUnitOfWork]:
        return self._transaction(self._writer, write=True)

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self.timeout), self._reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (*UNAVAILABLE, TimeoutError, exc.DBAPIError) as error:
            if isinstance(error, TimeoutError) or _away(error):
                raise StoreUnavailable(f"the database did not answer ({type(error).__name__})") from error
            raise

    async def wal_position(self, *, replayed: bool = False) -> int | None:
        """The primary's WAL insert position now, or with ``replayed`` how far a standby has replayed
        (``db/wal.py``)."""
        try:
            async with asyncio.timeout(self.timeout), self._reader.connect() as connection:
                return await wal.position(connection, wal.REPLAYED if replayed else wal.INSERTED)
        except (*UNAVAILABLE, TimeoutError, exc.DBAPIError) as error:
            if isinstance(error, TimeoutError) or _away(error):
                raise StoreUnavailable(f"the database did not answer ({type(error).__name__})") from error
            raise

    async def durability(self) -> list[str]:
        """Settings under which an acknowledged opt-out could be lost in a crash, as ``name=value``.

        PostgreSQL must write through (``fsync``), wait for the WAL flush on commit
        (``synchronous_commit``) and guard against torn pages (``full_page_writes``); SQLite must sync
        on every commit (``synchronous`` FULL or EXTRA).
        """
        try:
            async with asyncio.timeout(self.timeout):
                if self.dialect == "sqlite":
                    level = await self._sqlite_synchronous()
                    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
                    return [] if level in (2, 3) else [f"synchronous={names.get(level, level)}"]
                async with self._reader.connect() as connection:
                    # The value a session gets without asking: ours ask for synchronous_commit.
                    rows = await connection.exec_driver_sql(
                        "SELECT name, reset_val FROM pg_settings"
                        " WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') ORDER BY name"
                    )
                    said = [(str(row["name"]), str(row["reset_val"])) for row in rows.mappings()]
                    return [f"{name}={value}" for name, value in said if value.lower() == "off"]
        except (*UNAVAILABLE, TimeoutError, exc.DBAPIError) as error:
            if isinstance(error, TimeoutError) or _away(error):
                raise StoreUnavailable(f"the database did not answer ({type(error).__name__})") from error
            raise

    async def _sqlite_synchronous(self) -> int:
        """The writing connection's ``synchronous`` level (a per-connection setting: the writer's is
        the one commits use). Readiness must not queue behind writes for that one connection, so while
        it is busy the level it last showed stands: a connection's setting does not change under it."""
        try:
            async with asyncio.timeout(0.2), self._writer.connect() as connection:
                level = int((await connection.exec_driver_sql("PRAGMA synchronous")).scalar_one())
        except TimeoutError:
            if self._writer_synchronous is not None:
                return self._writer_synchronous
            async with self._reader.connect() as connection:  # same start-up settings as the writer's
                return int((await connection.exec_driver_sql("PRAGMA synchronous")).scalar_one())
        self._writer_synchronous = level
        return level

    async def dispose(self) -> None:
        await self._writer.dispose()
        if self.dialect == "sqlite":
            await self._reader.dispose()
        if self._turn is not None:
            self._turn.close()


def connect(
    url: str, listeners: Sequence[CommitListener] = (), timeout: float = 5.0, *, sealer: Sealer
) -> SqlStore:
    return SqlStore(url, listeners, timeout, sealer=sealer)
