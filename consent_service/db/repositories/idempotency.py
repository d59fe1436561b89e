"""Idempotency records in SQL: a key claimed in the transaction that does the work, with its answer.

An answer can hold a family's contact details and name (a person created with a key), so it is sealed
like them (``domain/sealing.py``); the database cannot search it, so what mentions a person is found
by opening each answer here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import IdempotencyRow
from consent_service.db.repositories._sql import upserts
from consent_service.db.sealed import answer_place
from consent_service.domain.sealing import Sealer

idempotency_t = IdempotencyRow.__table__


# Built once and given their values as parameters (``_sql.py`` says why).
_CLAIM = upserts(IdempotencyRow, lambda insert_: insert_.on_conflict_do_nothing())
_COMPLETE = (
    update(IdempotencyRow)
    .where(IdempotencyRow.owner == bindparam("o"), IdempotencyRow.key == bindparam("k"))
    .values(status=bindparam("status"), body=bindparam("body"))
)


class SqlIdempotency:
    def __init__(self, connection: AsyncConnection, dialect: str, sealer: Sealer) -> None:
        self._c = connection
        self._dialect = dialect
        self._sealer = sealer

    def _body(self, owner: str, key: str, body: str) -> str:
        # A claim not yet answered holds an empty body: nothing to open.
        return self._sealer.open(body, answer_place(owner, key)) if body else body

    async def claim(
        self, owner: str, key: str, request_digest: str, at: datetime
    ) -> tuple[str, int, str] | None:
        # On PostgreSQL a concurrent claim of the same key waits here until the first one commits.
        inserted = await self._c.execute(
            _CLAIM[self._dialect],
            {
                "owner": owner,
                "key": key,
                "request_digest": request_digest,
                "status": 0,
                "body": "",
                "created_at": at,
            },
        )
        if inserted.rowcount == 1:
            return None
        table = idempotency_t
        row = (await self._c.execute(select(table).where(table.c.owner == owner, table.c.key == key))).one()
        return row.request_digest, row.status, self._body(owner, key, row.body)

    async def complete(self, owner: str, key: str, status: int, body: str) -> None:
        sealed = self._sealer.seal(body, answer_place(owner, key))
        await self._c.execute(_COMPLETE, {"o": owner, "k": key, "status": status, "body": sealed})

    async def purge(self, before: datetime) -> int:
        gone = await self._c.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < before))
        return int(gone.rowcount or 0)

    async def forget_mentioning(self, text: str) -> None:
        t = idempotency_t.c
        rows = await self._c.execute(select(t.owner, t.key, t.body).where(t.body != ""))
        for row in rows.all():
            if text in self._body(row.owner, row.key, row.body):
                await self._c.execute(delete(IdempotencyRow).where(t.owner == row.owner, t.key == row.key))
