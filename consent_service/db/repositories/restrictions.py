"""Safeguarding restrictions in SQL: for a person or one of their contact points, lifted on record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import RestrictionRow
from consent_service.db.repositories._sql import keyed, restrictions_t, runs
from consent_service.domain.channels import Channel
from consent_service.domain.restrictions import Restriction

_RESTRICTIONS = keyed(
    select(restrictions_t).order_by(restrictions_t.c.created_at), restrictions_t.c.person_id
)


def _restriction(row: Row[Any]) -> Restriction:
    return Restriction(
        id=row.id,
        person_id=row.person_id,
        fingerprint=row.fingerprint,
        channel=None if row.channel == "all" else Channel(row.channel),
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        lifted_at=row.lifted_at,
        lift_reason=row.lift_reason,
        lifted_by=row.lifted_by,
    )


class SqlRestrictions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, restriction: Restriction) -> None:
        await self._c.execute(
            insert(RestrictionRow).values(
                id=restriction.id,
                person_id=restriction.person_id,
                fingerprint=restriction.fingerprint,
                channel=restriction.channel.value if restriction.channel else "all",
                reason=restriction.reason,
                created_by=restriction.created_by,
                created_at=restriction.created_at,
            )
        )

    async def get(self, restriction_id: str) -> Restriction | None:
        row = (
            await self._c.execute(select(restrictions_t).where(restrictions_t.c.id == restriction_id))
        ).first()
        return _restriction(row) if row else None

    async def lift(self, restriction_id: str, at: datetime, reason: str, by: str) -> bool:
        lifted = await self._c.execute(
            update(RestrictionRow)
            .where(RestrictionRow.id == restriction_id, RestrictionRow.lifted_at.is_(None))
            .values(lifted_at=at, lift_reason=reason, lifted_by=by)
        )
        return bool(lifted.rowcount)

    async def for_people(self, person_ids: Sequence[str]) -> list[Restriction]:
        found: list[Restriction] = []
        for statement, values in runs(_RESTRICTIONS, person_ids, self._c.dialect.name):
            found.extend(_restriction(row) for row in await self._c.execute(statement, values))
        return found

    async def erase_reasons(self, person_id: str) -> None:
        await self._c.execute(
            update(RestrictionRow)
            .where(RestrictionRow.person_id == person_id)
            .values(reason="(erased)", lift_reason=None, fingerprint=None)
        )
