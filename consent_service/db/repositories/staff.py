"""Staff accounts in SQL: added, found by username, disabled (never deleted, so the record keeps who);
and the staff audit trail, which is only ever appended to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import StaffAccountRow, StaffAuditRow
from consent_service.domain.staff import AuditAction, AuditEntry, Role, StaffAccount

_accounts = StaffAccountRow.__table__
_audit = StaffAuditRow.__table__


def _account(row: Any) -> StaffAccount:
    return StaffAccount(
        row.id,
        row.username,
        row.display_name,
        row.password_hash,
        row.created_at,
        row.disabled_at,
        Role(row.role),
    )


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
                role=account.role.value,
            )
        )

    async def by_username(self, username: str) -> StaffAccount | None:
        row = (await self._c.execute(select(_accounts).where(_accounts.c.username == username))).first()
        return None if row is None else _account(row)

    async def listed(self) -> list[StaffAccount]:
        rows = await self._c.execute(select(_accounts).order_by(_accounts.c.username))
        return [_account(row) for row in rows]

    async def disable(self, username: str, at: datetime) -> bool:
        result = await self._c.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.username == username, StaffAccountRow.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        return bool(result.rowcount)

    async def set_role(self, username: str, role: Role) -> bool:
        result = await self._c.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.username == username, StaffAccountRow.role != role.value)
            .values(role=role.value)
        )
        return bool(result.rowcount)

    async def set_password(self, username: str, password_hash: str) -> bool:
        result = await self._c.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.username == username, StaffAccountRow.disabled_at.is_(None))
            .values(password_hash=password_hash)
        )
        return bool(result.rowcount)

    async def audit(self, entry: AuditEntry) -> None:
        await self._c.execute(
            insert(StaffAuditRow).values(
                at=entry.at,
                action=entry.action.value,
                actor=entry.actor,
                subject=entry.subject,
                detail=entry.detail,
            )
        )

    async def trail(self, limit: int, before: int | None = None) -> list[AuditEntry]:
        query = select(_audit).order_by(_audit.c.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(_audit.c.seq < before)
        return [
            AuditEntry(row.at, AuditAction(row.action), row.actor, row.subject, row.detail, row.seq)
            for row in await self._c.execute(query)
        ]
