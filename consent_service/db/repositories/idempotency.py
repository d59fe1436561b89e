"""Idempotency records in SQL: a key claimed in the transaction that does the work, with its answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import IdempotencyRow
from consent_service.db.repositories._sql import dialect_insert


class SqlIdempotency:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def claim(
        self, owner: str, key: str, request_digest: str, at: datetime
    ) -> tuple[str, int, str] | None:
        # On PostgreSQL a concurrent claim of the same key waits here until the first one commits.
        inserted = await self._c.execute(
            dialect_insert(self._dialect, IdempotencyRow)
            .values(owner=owner, key=key, request_digest=request_digest, status=0, body="", created_at=at)
            .on_conflict_do_nothing()
        )
        if inserted.rowcount == 1:
            return None
        table = IdempotencyRow.__table__
        row = (await self._c.execute(select(table).where(table.c.owner == owner, table.c.key == key))).one()
        return row.request_digest, row.status, row.body

    async def complete(self, owner: str, key: str, status: int, body: str) -> None:
        await self._c.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.owner == owner, IdempotencyRow.key == key)
            .values(status=status, body=body)
        )

    async def purge(self, before: datetime) -> int:
        gone = await self._c.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < before))
        return int(gone.rowcount or 0)

    async def forget_mentioning(self, text: str) -> None:
        await self._c.execute(
            delete(IdempotencyRow).where(IdempotencyRow.body.contains(text, autoescape=True))
        )
