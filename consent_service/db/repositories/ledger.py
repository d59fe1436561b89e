"""The ledger in SQL: consent events in a hash chain, its head, and the current choice they fold to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ConsentEventRow, CurrentConsentRow, LedgerHeadRow
from consent_service.db.repositories._sql import (
    batches,
    channel_in,
    channel_out,
    current_t,
    dialect_insert,
    events_t,
    keyed,
    people_t,
    runs,
)
from consent_service.domain.channels import Channel
from consent_service.domain.ledger import (
    GENESIS_HASH,
    ConsentEvent,
    CurrentConsent,
    Decision,
    Evidence,
    Source,
)
from consent_service.domain.purposes import Basis

_CURRENT = keyed(select(current_t), current_t.c.person_id)
_CURRENT_OF_PURPOSE = keyed(
    select(current_t).where(
        current_t.c.purpose == bindparam("purpose"), current_t.c.channel == bindparam("channel")
    ),
    current_t.c.person_id,
)


def _event(row: Row[Any]) -> ConsentEvent:
    return ConsentEvent(
        id=row.id,
        seq=row.seq,
        person_id=row.person_id,
        purpose=row.purpose,
        channel=channel_out(row.channel),
        decision=Decision(row.decision),
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        source=Source(row.source),
        actor=row.actor,
        notice_id=row.notice_id,
        evidence=Evidence.stored(row.evidence),
        evidence_hash=row.evidence_hash,
        prev_hash=row.prev_hash,
        hash=row.hash,
        evidence_gaps=tuple(row.evidence_gaps or ()),
        basis=Basis(row.basis) if row.basis else None,
    )


def _current(row: Row[Any]) -> CurrentConsent:
    return CurrentConsent(
        row.purpose,
        channel_out(row.channel),
        Decision(row.decision),
        row.effective_at,
        row.event_id,
        row.notice_id,
        Source(row.source),
        row.collection_context,
    )


class SqlLedger:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def head_for_update(self) -> tuple[int, str]:
        head = LedgerHeadRow.__table__
        row = (await self._c.execute(select(head).where(head.c.id == 1).with_for_update())).first()
        if row is None:
            await self._c.execute(insert(LedgerHeadRow).values(id=1, seq=0, hash=GENESIS_HASH))
            return 0, GENESIS_HASH
        return row.seq, row.hash

    async def set_head(self, seq: int, hash_: str) -> None:
        await self._c.execute(update(LedgerHeadRow).where(LedgerHeadRow.id == 1).values(seq=seq, hash=hash_))

    async def append(self, event: ConsentEvent) -> None:
        await self._c.execute(
            insert(ConsentEventRow).values(
                id=event.id,
                seq=event.seq,
                person_id=event.person_id,
                purpose=event.purpose,
                channel=channel_in(event.channel),
                decision=event.decision.value,
                effective_at=event.effective_at,
                recorded_at=event.recorded_at,
                source=event.source.value,
                actor=event.actor,
                notice_id=event.notice_id,
                evidence=event.evidence.as_dict(),
                evidence_hash=event.evidence_hash,
                prev_hash=event.prev_hash,
                hash=event.hash,
                evidence_gaps=list(event.evidence_gaps),
                basis=event.basis.value if event.basis else None,
            )
        )

    async def events(self, person_ids: Sequence[str], purpose: str | None = None) -> list[ConsentEvent]:
        found: list[ConsentEvent] = []
        for batch in batches(person_ids):
            query = select(events_t).where(events_t.c.person_id.in_(batch))
            if purpose is not None:
                query = query.where(events_t.c.purpose == purpose)
            found.extend(_event(row) for row in await self._c.execute(query))
        return sorted(found, key=lambda e: e.seq)

    async def current(
        self, person_ids: Sequence[str], purpose: str | None = None, channel: Channel | None = None
    ) -> dict[str, list[CurrentConsent]]:
        found: dict[str, list[CurrentConsent]] = defaultdict(list)
        keyed = _CURRENT if purpose is None else _CURRENT_OF_PURPOSE
        for statement, values in runs(keyed, person_ids, purpose=purpose, channel=channel_in(channel)):
            for row in await self._c.execute(statement, values):
                found[row.person_id].append(_current(row))
        return found

    async def erase_evidence(self, person_id: str) -> None:
        # The one change the database's append-only triggers let through (migration 0018).
        await self._c.execute(
            update(ConsentEventRow).where(ConsentEventRow.person_id == person_id).values(evidence={})
        )

    async def chain(self, after_seq: int, limit: int) -> list[tuple[ConsentEvent, bool]]:
        rows = await self._c.execute(
            select(events_t, people_t.c.erased_at)
            .join(people_t, people_t.c.id == events_t.c.person_id)
            .where(events_t.c.seq > after_seq)
            .order_by(events_t.c.seq)
            .limit(limit)
        )
        return [(_event(row), row.erased_at is not None) for row in rows]

    async def head(self) -> tuple[int, str]:
        head = LedgerHeadRow.__table__
        row = (await self._c.execute(select(head).where(head.c.id == 1))).first()
        return (row.seq, row.hash) if row else (0, GENESIS_HASH)

    async def save_current(self, person_id: str, consent: CurrentConsent) -> None:
        values = {
            "decision": consent.decision.value,
            "effective_at": consent.effective_at,
            "event_id": consent.event_id,
            "notice_id": consent.notice_id,
            "source": consent.source.value,
            "collection_context": consent.collection_context,
        }
        key = {"person_id": person_id, "purpose": consent.purpose, "channel": channel_in(consent.channel)}
        statement = dialect_insert(self._dialect, CurrentConsentRow).values(**key, **values)
        await self._c.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))

    async def current_page(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, str | None, CurrentConsent]]:
        c = current_t.c
        query = (
            select(current_t, people_t.c.reference)
            .join(people_t, people_t.c.id == c.person_id)
            .where(people_t.c.erased_at.is_(None))
        )
        if after is not None:
            person_id, purpose, channel = after
            query = query.where(
                or_(
                    c.person_id > person_id,
                    and_(c.person_id == person_id, c.purpose > purpose),
                    and_(c.person_id == person_id, c.purpose == purpose, c.channel > channel),
                )
            )
        query = query.order_by(c.person_id, c.purpose, c.channel).limit(limit)
        return [(row.person_id, row.reference, _current(row)) for row in await self._c.execute(query)]
