"""Staff accounts in SQL: added, found by username, disabled (never deleted, so the record keeps who)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import StaffAccountRow
from consent_service.domain.staff import StaffAccount


class SqlStaffAccounts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, account: StaffAccount) -> None:
        await self._c.execute(
            insert(StaffAccountRow).values(
                id=account.id,
                username=account.username,
                display_name=account.display_name,
                password_hash=account.password_hash,
                created_at=account.created_at,
            )
        )

    async def by_username(self, username: str) -> StaffAccount | None:
        table = StaffAccountRow.__table__
        row = (await self._c.execute(select(table).where(table.c.username == username))).first()
        if row is None:
            return None
        return StaffAccount(
            row.id, row.username, row.display_name, row.password_hash, row.created_at, row.disabled_at
        )

    async def disable(self, username: str, at: datetime) -> bool:
        result = await self._c.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.username == username, StaffAccountRow.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        return bool(result.rowcount)
