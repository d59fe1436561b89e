"""Provider events in SQL: each bounce, complaint or token remembered once, so a retry does no harm."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ProviderEventRow
from consent_service.db.repositories._sql import dialect_insert


class SqlProviderEvents:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def claim(self, provider: str, event_id: str, at: datetime) -> bool:
        inserted = await self._c.execute(
            dialect_insert(self._dialect, ProviderEventRow)
            .values(provider=provider, event_id=event_id, received_at=at)
            .on_conflict_do_nothing()
        )
        return inserted.rowcount == 1
