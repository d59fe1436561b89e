"""API keys in SQL, held only as digests: a key is found by the digest of what a caller presents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ApiKeyRow
from consent_service.domain.keys import ApiKey, KeyScope

_TABLE = ApiKeyRow.__table__


def _key(row: Any) -> ApiKey:
    scopes = frozenset(KeyScope(s) for s in row.scopes.split())
    return ApiKey(row.id, row.name, scopes, row.created_at, row.revoked_at, row.expires_at, row.last_used_at)


class SqlApiKeys:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, key: ApiKey, digest: str) -> None:
        await self._c.execute(
            insert(ApiKeyRow).values(
                id=key.id,
                name=key.name,
                digest=digest,
                scopes=" ".join(sorted(key.scopes)),
                created_at=key.created_at,
                expires_at=key.expires_at,
            )
        )

    async def by_digest(self, digest: str) -> ApiKey | None:
        row = (await self._c.execute(select(_TABLE).where(_TABLE.c.digest == digest))).first()
        return None if row is None else _key(row)

    async def by_id(self, key_id: str) -> ApiKey | None:
        row = (await self._c.execute(select(_TABLE).where(_TABLE.c.id == key_id))).first()
        return None if row is None else _key(row)

    async def count(self) -> int:
        return int(await self._c.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    async def listed(self) -> list[ApiKey]:
        rows = await self._c.execute(select(_TABLE).order_by(_TABLE.c.created_at, _TABLE.c.id))
        return [_key(row) for row in rows]

    async def revoke(self, key_id: str, at: datetime) -> None:
        await self._c.execute(
            update(ApiKeyRow)
            .where(_TABLE.c.id == key_id, _TABLE.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def used(self, last_used: Mapping[str, datetime]) -> None:
        for key_id, at in last_used.items():
            await self._c.execute(
                update(ApiKeyRow)
                .where(
                    _TABLE.c.id == key_id,
                    or_(_TABLE.c.last_used_at.is_(None), _TABLE.c.last_used_at < at),
                )
                .values(last_used_at=at)
            )
