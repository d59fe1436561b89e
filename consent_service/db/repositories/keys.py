"""API keys in SQL, held only as digests: a key is found by the digest of what a caller presents."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ApiKeyRow
from consent_service.domain.keys import ApiKey, KeyScope


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
            )
        )

    async def by_digest(self, digest: str) -> ApiKey | None:
        table = ApiKeyRow.__table__
        row = (await self._c.execute(select(table).where(table.c.digest == digest))).first()
        if row is None:
            return None
        scopes = frozenset(KeyScope(s) for s in row.scopes.split())
        return ApiKey(row.id, row.name, scopes, row.created_at, row.revoked_at)

    async def count(self) -> int:
        return int(await self._c.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)
