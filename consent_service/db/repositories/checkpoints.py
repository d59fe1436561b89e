"""Checkpoints of the person chains' heads in SQL (``domain/checkpoints.py``)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import (
    LedgerCheckpointHeadRow,
    LedgerCheckpointRow,
    LedgerHeadRow,
    PersonChainRow,
)
from consent_service.db.repositories._sql import events_t
from consent_service.domain.checkpoints import ChainHead, Checkpoint

chains_t = PersonChainRow.__table__
checkpoints_t = LedgerCheckpointRow.__table__
heads_t = LedgerCheckpointHeadRow.__table__


def _checkpoint(row: Any, heads: tuple[ChainHead, ...]) -> Checkpoint:
    return Checkpoint(row.id, row.made_at, heads, row.prev_hash, row.hash)


class SqlCheckpoints:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def take_turn(self) -> None:
        # The single chain's end row no longer moves, and only checkpoints lock it.
        head = LedgerHeadRow.__table__
        await self._c.execute(select(head.c.id).where(head.c.id == 1).with_for_update())

    async def any_moved(self) -> bool:
        c = chains_t.c
        return (
            await self._c.execute(select(c.person_id).where(c.checkpointed.is_(False)).limit(1))
        ).first() is not None

    async def moved_heads(self, limit: int) -> list[ChainHead]:
        c = chains_t.c
        rows = await self._c.execute(
            select(chains_t)
            .where(c.checkpointed.is_(False))
            .order_by(c.person_id)
            .limit(limit)
            # A head a writer holds is skipped, not waited for: the checkpoint never holds up a write,
            # and the two can never wait for each other.
            .with_for_update(skip_locked=True)
        )
        return [ChainHead(row.person_id, row.seq, row.hash) for row in rows]

    async def last(self) -> Checkpoint | None:
        c = checkpoints_t.c
        row = (await self._c.execute(select(checkpoints_t).order_by(c.id.desc()).limit(1))).first()
        return _checkpoint(row, ()) if row else None

    async def add(self, checkpoint: Checkpoint) -> None:
        await self._c.execute(
            insert(LedgerCheckpointRow).values(
                id=checkpoint.id,
                made_at=checkpoint.made_at,
                heads=len(checkpoint.heads),
                prev_hash=checkpoint.prev_hash,
                hash=checkpoint.hash,
            )
        )
        if not checkpoint.heads:
            return
        await self._c.execute(
            insert(LedgerCheckpointHeadRow),
            [
                {"checkpoint_id": checkpoint.id, "person_id": h.person_id, "seq": h.seq, "hash": h.hash}
                for h in checkpoint.heads
            ],
        )
        await self._c.execute(
            update(PersonChainRow)
            .where(PersonChainRow.person_id.in_([h.person_id for h in checkpoint.heads]))
            .values(checkpointed=True)
        )

    async def page(self, after_id: int, limit: int) -> list[Checkpoint]:
        found = (
            await self._c.execute(
                select(checkpoints_t)
                .where(checkpoints_t.c.id > after_id)
                .order_by(checkpoints_t.c.id)
                .limit(limit)
            )
        ).all()
        if not found:
            return []
        h = heads_t.c
        rows = await self._c.execute(
            select(heads_t)
            .where(h.checkpoint_id.in_([row.id for row in found]))
            .order_by(h.checkpoint_id, h.person_id)
        )
        heads = {
            number: tuple(ChainHead(r.person_id, r.seq, r.hash) for r in group)
            for number, group in groupby(rows, key=lambda r: r.checkpoint_id)
        }
        return [_checkpoint(row, heads.get(row.id, ())) for row in found]

    async def unmatched(self) -> tuple[int, ChainHead] | None:
        h, e = heads_t.c, events_t.c
        matching = select(e.id).where(e.person_id == h.person_id, e.seq == h.seq, e.hash == h.hash)
        row = (
            await self._c.execute(
                select(heads_t).where(~matching.exists()).order_by(h.checkpoint_id, h.person_id).limit(1)
            )
        ).first()
        return (row.checkpoint_id, ChainHead(row.person_id, row.seq, row.hash)) if row else None
