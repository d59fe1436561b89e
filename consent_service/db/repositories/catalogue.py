"""The catalogue in SQL: purposes with their basis per channel, and the notice versions shown for them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import NoticeRow, PurposeRow
from consent_service.db.repositories._sql import channel_in, channel_out
from consent_service.domain.notices import NoticeKind, NoticeVersion, text_digest
from consent_service.domain.purposes import Basis, Category, Purpose


class SqlCatalogue:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def purposes(self) -> list[Purpose]:
        rows = await self._c.execute(select(PurposeRow.__table__).order_by(PurposeRow.code))
        return [
            Purpose(
                row.code,
                Category(row.category),
                {channel_out(ch): Basis(basis) for ch, basis in row.bases.items()},
                row.description,
                row.shares_with_controllers,
            )
            for row in rows
        ]

    async def add_purpose(self, purpose: Purpose, at: datetime) -> None:
        await self._c.execute(
            insert(PurposeRow).values(
                code=purpose.code,
                category=purpose.category.value,
                bases={channel_in(ch): basis.value for ch, basis in purpose.bases.items()},
                description=purpose.description,
                created_at=at,
                shares_with_controllers=purpose.shares_with_controllers,
            )
        )

    async def notices(self, purpose: str | None = None) -> list[NoticeVersion]:
        query = select(NoticeRow.__table__).order_by(NoticeRow.purpose, NoticeRow.version)
        if purpose is not None:
            query = query.where(NoticeRow.purpose == purpose)
        return [
            NoticeVersion(
                r.id,
                r.purpose,
                r.version,
                r.language,
                r.text,
                r.sha256,
                r.published_at,
                NoticeKind(r.kind),
                tuple(r.controllers),
            )
            for r in await self._c.execute(query)
        ]

    async def add_notice(
        self,
        purpose: str,
        text: str,
        language: str,
        published_at: datetime,
        kind: NoticeKind,
        controllers: tuple[str, ...] = (),
    ) -> NoticeVersion:
        latest = await self._c.scalar(select(func.max(NoticeRow.version)).where(NoticeRow.purpose == purpose))
        notice = NoticeVersion(
            str(uuid.uuid4()),
            purpose,
            (latest or 0) + 1,
            language,
            text,
            text_digest(text),
            published_at,
            kind,
            controllers,
        )
        await self._c.execute(
            insert(NoticeRow).values(
                id=notice.id,
                purpose=purpose,
                version=notice.version,
                language=language,
                text=text,
                sha256=notice.sha256,
                published_at=published_at,
                kind=kind.value,
                controllers=list(controllers),
            )
        )
        return notice
