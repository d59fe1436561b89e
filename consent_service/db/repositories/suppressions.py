"""The suppression list in SQL: entries by fingerprint and channel, lifted on record, never deleted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import SuppressionRow
from consent_service.db.repositories._sql import from_value, keyed, runs, suppressions_t
from consent_service.domain.channels import Channel
from consent_service.domain.suppressions import (
    LiftReason,
    Suppression,
    SuppressionHow,
    SuppressionReason,
    SuppressionScope,
)

_SUPPRESSIONS_BY_CHANNEL = select(suppressions_t).where(
    or_(suppressions_t.c.channel == bindparam("channel"), suppressions_t.c.channel == "all")
)
_SUPPRESSIONS = keyed(
    _SUPPRESSIONS_BY_CHANNEL.order_by(suppressions_t.c.effective_at), suppressions_t.c.fingerprint
)
_SUPPRESSIONS_IN_FORCE = keyed(
    _SUPPRESSIONS_BY_CHANNEL.where(suppressions_t.c.lifted_at.is_(None)).order_by(
        suppressions_t.c.effective_at
    ),
    suppressions_t.c.fingerprint,
)


_CHANNEL = from_value(Channel)
_SCOPE = from_value(SuppressionScope)
_REASON = from_value(SuppressionReason)
_HOW = from_value(SuppressionHow)
_LIFT_REASON = from_value(LiftReason)


def suppression_of(row: Row[Any]) -> Suppression:
    return Suppression(
        id=row.id,
        fingerprint=row.fingerprint,
        channel=None if row.channel == "all" else _CHANNEL(row.channel),
        scope=_SCOPE(row.scope),
        reason=_REASON(row.reason),
        purpose=row.purpose,
        source=row.source,
        actor=row.actor,
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        how=_HOW(row.how) if row.how else None,
        lifted_at=row.lifted_at,
        lift_reason=_LIFT_REASON(row.lift_reason) if row.lift_reason else None,
        lifted_by=row.lifted_by,
        evidence_gaps=tuple(row.evidence_gaps or ()),
    )


_ADD = insert(SuppressionRow)


class SqlSuppressions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, entry: Suppression) -> None:
        # Given its values as parameters, not built per call (``_sql.py`` says why).
        await self._c.execute(
            _ADD,
            {
                "id": entry.id,
                "fingerprint": entry.fingerprint,
                "channel": entry.channel.value if entry.channel else "all",
                "scope": entry.scope.value,
                "reason": entry.reason.value,
                "purpose": entry.purpose,
                "source": entry.source,
                "actor": entry.actor,
                "how": entry.how.value if entry.how else None,
                "effective_at": entry.effective_at,
                "recorded_at": entry.recorded_at,
                "evidence_gaps": list(entry.evidence_gaps),
            },
        )

    async def get(self, entry_id: str) -> Suppression | None:
        row = (await self._c.execute(select(suppressions_t).where(suppressions_t.c.id == entry_id))).first()
        return suppression_of(row) if row else None

    async def lift(self, entry_id: str, at: datetime, reason: LiftReason, by: str) -> bool:
        lifted = await self._c.execute(
            update(SuppressionRow)
            .where(SuppressionRow.id == entry_id, SuppressionRow.lifted_at.is_(None))
            .values(lifted_at=at, lift_reason=reason.value, lifted_by=by)
        )
        return bool(lifted.rowcount)

    async def for_fingerprints(
        self, fingerprints: Sequence[str], channel: Channel | None, include_lifted: bool
    ) -> dict[str, list[Suppression]]:
        found: dict[str, list[Suppression]] = defaultdict(list)
        keyed = _SUPPRESSIONS if include_lifted else _SUPPRESSIONS_IN_FORCE
        # An entry for every channel ("all") answers for each; with no channel, only those do.
        for statement, values in runs(
            keyed, fingerprints, self._c.dialect.name, channel=channel.value if channel else "all"
        ):
            for row in await self._c.execute(statement, values):
                found[row.fingerprint].append(suppression_of(row))
        return found

    async def page(
        self,
        channel: Channel | None,
        reason: SuppressionReason | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Suppression]:
        query = select(suppressions_t)
        if channel is not None:
            query = query.where(suppressions_t.c.channel == channel.value)
        if reason is not None:
            query = query.where(suppressions_t.c.reason == reason.value)
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(
                    suppressions_t.c.recorded_at > at,
                    and_(suppressions_t.c.recorded_at == at, suppressions_t.c.id > last_id),
                )
            )
        query = query.order_by(suppressions_t.c.recorded_at, suppressions_t.c.id).limit(limit)
        return [suppression_of(row) for row in await self._c.execute(query)]
