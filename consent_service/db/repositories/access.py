"""Subject access requests and legal holds in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import AccessRequestRow, LegalHoldRow
from consent_service.db.repositories._sql import batches
from consent_service.domain.access import AccessRequest, LegalHold

_requests = AccessRequestRow.__table__
_holds = LegalHoldRow.__table__


def _request(row: Row[Any]) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        person_id=row.person_id,
        received_on=row.received_on,
        due_on=row.due_on,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
    )


def _hold(row: Row[Any]) -> LegalHold:
    return LegalHold(
        id=row.id,
        person_id=row.person_id,
        reason=row.reason,
        placed_by=row.placed_by,
        placed_at=row.placed_at,
        released_at=row.released_at,
        released_by=row.released_by,
    )


class SqlAccessRequests:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, request: AccessRequest) -> None:
        await self._c.execute(
            insert(AccessRequestRow).values(
                id=request.id,
                person_id=request.person_id,
                received_on=request.received_on,
                due_on=request.due_on,
                recorded_by=request.recorded_by,
                recorded_at=request.recorded_at,
            )
        )

    async def get(self, request_id: str) -> AccessRequest | None:
        row = (await self._c.execute(select(_requests).where(_requests.c.id == request_id))).first()
        return _request(row) if row else None

    async def listed(self, open_only: bool) -> list[AccessRequest]:
        query = select(_requests).order_by(_requests.c.due_on, _requests.c.id)
        if open_only:
            query = query.where(_requests.c.answered_at.is_(None))
        return [_request(row) for row in await self._c.execute(query)]

    async def answered(self, request_id: str, at: datetime, by: str) -> bool:
        done = await self._c.execute(
            update(AccessRequestRow)
            .where(AccessRequestRow.id == request_id, AccessRequestRow.answered_at.is_(None))
            .values(answered_at=at, answered_by=by)
        )
        return bool(done.rowcount)


class SqlLegalHolds:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, hold: LegalHold) -> None:
        await self._c.execute(
            insert(LegalHoldRow).values(
                id=hold.id,
                person_id=hold.person_id,
                reason=hold.reason,
                placed_by=hold.placed_by,
                placed_at=hold.placed_at,
            )
        )

    async def standing(self, person_ids: Sequence[str]) -> list[LegalHold]:
        found: list[LegalHold] = []
        for batch in batches(person_ids):
            query = (
                select(_holds)
                .where(_holds.c.person_id.in_(list(batch)), _holds.c.released_at.is_(None))
                .order_by(_holds.c.placed_at)
            )
            found += [_hold(row) for row in await self._c.execute(query)]
        return found

    async def release(self, hold_id: str, at: datetime, by: str) -> bool:
        done = await self._c.execute(
            update(LegalHoldRow)
            .where(LegalHoldRow.id == hold_id, LegalHoldRow.released_at.is_(None))
            .values(released_at=at, released_by=by)
        )
        return bool(done.rowcount)
