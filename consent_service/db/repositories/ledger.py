"""The ledger in SQL: consent events in hash chains, their heads, and the current choice they fold to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ConsentEventRow, LedgerHeadRow, PersonChainRow
from consent_service.db.repositories._sql import (
    batches,
    channel_in,
    channel_out,
    current_t,
    events_t,
    from_value,
    keyed,
    people_t,
    runs,
    upserts,
)
from consent_service.domain.channels import Channel
from consent_service.domain.checkpoints import EMPTY_HEAD_HASH, EMPTY_HEAD_SEQ, ChainHead
from consent_service.domain.ledger import (
    GENESIS_HASH,
    ConsentEvent,
    CurrentConsent,
    Decision,
    Evidence,
    Source,
)
from consent_service.domain.purposes import Basis

chains_t = PersonChainRow.__table__


def _hold(insert_: Any) -> Any:
    return (
        insert_.values(person_id=bindparam("person_id"), seq=EMPTY_HEAD_SEQ, hash=EMPTY_HEAD_HASH)
        .on_conflict_do_update(index_elements=["person_id"], set_={"person_id": insert_.excluded.person_id})
        .returning(chains_t.c.seq, chains_t.c.hash)
    )


_HOLD = upserts(chains_t, _hold)


def _move(insert_: Any) -> Any:
    # An upsert, so that a person made in the same transaction gets their head here, unheld: nobody
    # else can see them before the commit.
    return insert_.values(
        person_id=bindparam("person_id"), seq=bindparam("seq"), hash=bindparam("hash"), checkpointed=False
    ).on_conflict_do_update(
        index_elements=["person_id"],
        set_={"seq": insert_.excluded.seq, "hash": insert_.excluded.hash, "checkpointed": False},
    )


_MOVE = upserts(chains_t, _move)
_ADDRESS_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_NEXT_SEQS = text("SELECT nextval('consent_events_seq') FROM generate_series(1, :count)")
_LAST_SEQ = select(func.coalesce(func.max(events_t.c.seq), 0))

# Built once: a statement made per call (``.values(...)``) costs more in Python, in building it and its
# cache key, than the database takes to run it; these take their values as parameters, many rows at once.
_APPEND = insert(ConsentEventRow)
_CURRENT_FACTS = ("decision", "effective_at", "event_id", "notice_id", "source", "collection_context")


def _save_current(insert_: Any) -> Any:
    return insert_.on_conflict_do_update(
        index_elements=["person_id", "purpose", "channel"],
        set_={name: insert_.excluded[name] for name in _CURRENT_FACTS},
    )


_SAVE_CURRENT = upserts(current_t, _save_current)


def _event_row(event: ConsentEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "seq": event.seq,
        "person_id": event.person_id,
        "purpose": event.purpose,
        "channel": channel_in(event.channel),
        "decision": event.decision.value,
        "effective_at": event.effective_at,
        "recorded_at": event.recorded_at,
        "source": event.source.value,
        "actor": event.actor,
        "notice_id": event.notice_id,
        "evidence": event.evidence.as_dict(),
        "evidence_hash": event.evidence_hash,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "evidence_gaps": list(event.evidence_gaps),
        "basis": event.basis.value if event.basis else None,
    }


def _current_row(person_id: str, consent: CurrentConsent) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "purpose": consent.purpose,
        "channel": channel_in(consent.channel),
        "decision": consent.decision.value,
        "effective_at": consent.effective_at,
        "event_id": consent.event_id,
        "notice_id": consent.notice_id,
        "source": consent.source.value,
        "collection_context": consent.collection_context,
    }


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


_DECISION = from_value(Decision)
_SOURCE = from_value(Source)


def _current(row: Row[Any]) -> CurrentConsent:
    return CurrentConsent(
        row.purpose,
        channel_out(row.channel),
        _DECISION(row.decision),
        row.effective_at,
        row.event_id,
        row.notice_id,
        _SOURCE(row.source),
        row.collection_context,
    )


class SqlLedger:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def hold_chains(self, person_ids: Sequence[str]) -> dict[str, ChainHead]:
        held: dict[str, ChainHead] = {}
        for person_id in sorted(set(person_ids)):
            # One statement makes the head if the person has none and locks it either way: the no-op
            # update on a conflict takes the row lock, and RETURNING gives the head as it stands.
            row = (await self._c.execute(_HOLD[self._dialect], {"person_id": person_id})).one()
            held[person_id] = ChainHead(person_id, row.seq, row.hash)
        return held

    async def hold_address(self, fingerprint: str) -> None:
        if self._dialect == "postgresql":
            # A transaction-scoped advisory lock, keyed by the fingerprint's first 60 bits; SQLite's
            # writers queue for the database's own lock, so there it has nothing to add.
            await self._c.execute(_ADDRESS_LOCK, {"key": int(fingerprint[:15], 16)})

    async def next_seqs(self, count: int) -> list[int]:
        if self._dialect == "postgresql":
            return list((await self._c.execute(_NEXT_SEQS, {"count": count})).scalars())
        # SQLite: the writer holds the database's lock (BEGIN IMMEDIATE), so no other takes the same.
        last = (await self._c.execute(_LAST_SEQ)).scalar_one()
        return list(range(last + 1, last + 1 + count))

    async def move_head(self, head: ChainHead) -> None:
        await self._c.execute(
            _MOVE[self._dialect], {"person_id": head.person_id, "seq": head.seq, "hash": head.hash}
        )

    async def append(self, events: Sequence[ConsentEvent]) -> None:
        await self._c.execute(_APPEND, [_event_row(event) for event in events])

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
        for statement, values in runs(
            keyed, person_ids, self._dialect, purpose=purpose, channel=channel_in(channel)
        ):
            for row in await self._c.execute(statement, values):
                found[row.person_id].append(_current(row))
        return found

    async def erase_evidence(self, person_id: str) -> None:
        # The one change the database's append-only triggers let through (migration 0018).
        await self._c.execute(
            update(ConsentEventRow).where(ConsentEventRow.person_id == person_id).values(evidence={})
        )

    async def count(self) -> int:
        return int((await self._c.execute(select(func.count()).select_from(events_t))).scalar_one())

    async def single_chain_end(self) -> tuple[int, str]:
        head = LedgerHeadRow.__table__
        row = (await self._c.execute(select(head).where(head.c.id == 1))).first()
        return (row.seq, row.hash) if row else (0, GENESIS_HASH)

    async def single_chain(self, after_seq: int, limit: int) -> list[tuple[ConsentEvent, bool]]:
        end, _ = await self.single_chain_end()
        rows = await self._c.execute(
            select(events_t, people_t.c.erased_at)
            .join(people_t, people_t.c.id == events_t.c.person_id)
            .where(events_t.c.seq > after_seq, events_t.c.seq <= end)
            .order_by(events_t.c.seq)
            .limit(limit)
        )
        return [(_event(row), row.erased_at is not None) for row in rows]

    async def person_chains(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[ConsentEvent, bool, ChainHead | None]]:
        end, _ = await self.single_chain_end()
        e = events_t.c
        query = (
            select(
                events_t,
                people_t.c.erased_at,
                chains_t.c.seq.label("head_seq"),
                chains_t.c.hash.label("head_hash"),
            )
            .join(people_t, people_t.c.id == e.person_id)
            .outerjoin(chains_t, chains_t.c.person_id == e.person_id)
            .where(e.seq > end)
        )
        if after is not None:
            person_id, seq = after
            query = query.where(or_(e.person_id > person_id, and_(e.person_id == person_id, e.seq > seq)))
        rows = await self._c.execute(query.order_by(e.person_id, e.seq).limit(limit))
        return [
            (
                _event(row),
                row.erased_at is not None,
                ChainHead(row.person_id, row.head_seq, row.head_hash) if row.head_seq is not None else None,
            )
            for row in rows
        ]

    async def unmatched_head(self) -> ChainHead | None:
        c = chains_t.c
        matching = select(events_t.c.id).where(
            events_t.c.person_id == c.person_id, events_t.c.seq == c.seq, events_t.c.hash == c.hash
        )
        row = (
            await self._c.execute(
                select(chains_t)
                .where(c.seq > EMPTY_HEAD_SEQ, ~matching.exists())
                .order_by(c.person_id)
                .limit(1)
            )
        ).first()
        return ChainHead(row.person_id, row.seq, row.hash) if row else None

    async def save_current(self, person_id: str, consents: Sequence[CurrentConsent]) -> None:
        if consents:
            await self._c.execute(
                _SAVE_CURRENT[self._dialect], [_current_row(person_id, c) for c in consents]
            )

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
