"""Positions in PostgreSQL's write-ahead log, as integers (``pg_lsn`` less ``0/0``), for the replica
rule (``domain/replication.py``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

#: On a primary, where WAL has been inserted up to: at or past every commit that has returned, whatever
#: ``synchronous_commit`` says. (Its write position would be tighter, but is past a commit only once
#: that commit is flushed.)
INSERTED = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"
#: On a standby, the end of the last record replayed, whose commits new snapshots then see; NULL on a
#: server not in recovery, so a promoted replica is never taken for a caught-up one.
REPLAYED = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"


async def position(connection: AsyncConnection, statement: str) -> int | None:
    value = (await connection.exec_driver_sql(statement)).scalar()
    return None if value is None else int(value)
