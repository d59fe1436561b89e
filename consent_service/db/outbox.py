"""The outbox, consumer cursors and webhooks in SQL (the ``Outbox`` and ``Webhooks`` ports)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from consent_service.db.models import OutboxCursorRow, OutboxRow, WebhookDeadLetterRow, WebhookRow
from consent_service.domain.changes import Change, ChangeType, DeadLetter, PublishedChange, Webhook

# Declarative classes type their tables as FromClause; these are plain tables, and typed as such.
outbox_t = cast(Table, OutboxRow.__table__)
cursors_t = cast(Table, OutboxCursorRow.__table__)
webhooks_t = cast(Table, WebhookRow.__table__)
letters_t = cast(Table, WebhookDeadLetterRow.__table__)

#: The cursor row whose lock serialises the giving of positions; its value is the last one given.
POSITIONS = "positions"


class SqlOutbox:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def pending(self) -> bool:
        query = select(outbox_t.c.seq).where(outbox_t.c.position.is_(None)).limit(1)
        return (await self._c.execute(query)).first() is not None

    async def _locked_cursor(self, name: str, now: datetime) -> int:
        """The cursor's value, its row locked until the transaction ends (made at 0 if missing)."""
        query = select(cursors_t.c.position).where(cursors_t.c.name == name)
        if self._dialect == "postgresql":
            query = query.with_for_update()
        found = (await self._c.execute(query)).scalar()
        if found is not None:
            return int(found)
        await self._c.execute(_insert_missing(self._dialect, name, now))
        return int((await self._c.execute(query)).scalar_one())

    async def assign_positions(self, limit: int, at: datetime) -> int:
        last = await self._locked_cursor(POSITIONS, at)
        waiting = (
            await self._c.execute(
                select(outbox_t.c.seq)
                .where(outbox_t.c.position.is_(None))
                .order_by(outbox_t.c.seq)
                .limit(limit)
            )
        ).scalars()
        given = [{"s": seq, "p": last + i} for i, seq in enumerate(waiting, start=1)]
        if not given:
            return 0
        await self._c.execute(
            update(outbox_t).where(outbox_t.c.seq == bindparam("s")).values(position=bindparam("p")),
            given,
        )
        await self._c.execute(
            update(cursors_t)
            .where(cursors_t.c.name == POSITIONS)
            .values(position=last + len(given), updated_at=at)
        )
        return len(given)

    async def after(self, position: int, limit: int) -> list[PublishedChange]:
        rows = await self._c.execute(
            select(outbox_t).where(outbox_t.c.position > position).order_by(outbox_t.c.position).limit(limit)
        )
        return [_published(row) for row in rows]

    async def head(self) -> int:
        found = (await self._c.execute(select(func.max(outbox_t.c.position)))).scalar()
        return int(found or 0)

    async def cursor(self, name: str) -> int:
        found = (await self._c.execute(select(cursors_t.c.position).where(cursors_t.c.name == name))).scalar()
        return int(found or 0)

    async def set_cursor(self, name: str, position: int, at: datetime) -> None:
        await self._locked_cursor(name, at)
        await self._c.execute(
            update(cursors_t).where(cursors_t.c.name == name).values(position=position, updated_at=at)
        )

    async def take_lease(self, name: str, holder: int, until: datetime, now: datetime) -> bool:
        await self._locked_cursor(name, now)
        taken = await self._c.execute(
            update(cursors_t)
            .where(
                cursors_t.c.name == name,
                or_(cursors_t.c.position == holder, cursors_t.c.position == 0, cursors_t.c.updated_at < now),
            )
            .values(position=holder, updated_at=until)
        )
        return bool(taken.rowcount)

    async def oldest_waiting(self, after: int | None) -> datetime | None:
        behind: ColumnElement[bool] = outbox_t.c.position.is_(None)
        if after is not None:
            behind = or_(behind, outbox_t.c.position > after)
        found = (await self._c.execute(select(func.min(outbox_t.c.occurred_at)).where(behind))).scalar()
        return found if isinstance(found, datetime) else None

    async def purge(self, before: datetime) -> int:
        gone = await self._c.execute(
            delete(outbox_t).where(outbox_t.c.position.is_not(None), outbox_t.c.occurred_at < before)
        )
        return int(gone.rowcount or 0)


def _insert_missing(dialect: str, name: str, now: datetime) -> Any:
    values = {"name": name, "position": 0, "updated_at": now}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(cursors_t).values(**values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(cursors_t).values(**values).on_conflict_do_nothing()


def _published(row: Row[Any]) -> PublishedChange:
    return PublishedChange(
        position=int(row.position),
        change=Change(ChangeType(row.type), row.occurred_at, dict(row.payload), id=row.id),
    )


class SqlWebhooks:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, webhook: Webhook) -> None:
        await self._c.execute(
            insert(webhooks_t).values(
                id=webhook.id,
                url=webhook.url,
                secret=webhook.secret,
                created_at=webhook.created_at,
                position=webhook.position,
                attempts=0,
            )
        )

    async def get(self, webhook_id: str) -> Webhook | None:
        row = (await self._c.execute(select(webhooks_t).where(webhooks_t.c.id == webhook_id))).first()
        return _webhook(row) if row else None

    async def all(self) -> list[Webhook]:
        rows = await self._c.execute(select(webhooks_t).order_by(webhooks_t.c.created_at, webhooks_t.c.id))
        return [_webhook(row) for row in rows]

    async def disable(self, webhook_id: str, at: datetime) -> bool:
        done = await self._c.execute(
            update(webhooks_t)
            .where(webhooks_t.c.id == webhook_id, webhooks_t.c.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        return bool(done.rowcount)

    async def pin(self, webhook_id: str, through: int) -> None:
        await self._c.execute(
            update(webhooks_t).where(webhooks_t.c.id == webhook_id).values(pending_through=through)
        )

    async def delivered(self, webhook_id: str, position: int) -> None:
        await self._c.execute(
            update(webhooks_t)
            .where(webhooks_t.c.id == webhook_id)
            .values(
                position=position, attempts=0, next_attempt_at=None, last_error=None, pending_through=None
            )
        )

    async def failed(
        self, webhook_id: str, attempts: int, next_attempt_at: datetime, error: str, pending_through: int
    ) -> None:
        await self._c.execute(
            update(webhooks_t)
            .where(webhooks_t.c.id == webhook_id)
            .values(
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                last_error=error[:2000],
                pending_through=pending_through,
            )
        )

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            await self._c.execute(
                insert(letters_t),
                [
                    {
                        "id": letter.id,
                        "webhook_id": letter.webhook_id,
                        "position": letter.position,
                        "event_id": str(letter.event["id"]),
                        "payload": letter.event,
                        "attempts": letter.attempts,
                        "last_error": letter.last_error[:2000],
                        "failed_at": letter.failed_at,
                    }
                    for letter in letters
                ],
            )

    async def dead_letters(self, webhook_id: str, include_replayed: bool) -> list[DeadLetter]:
        condition = letters_t.c.webhook_id == webhook_id
        if not include_replayed:
            condition = and_(condition, letters_t.c.replayed_at.is_(None))
        rows = await self._c.execute(select(letters_t).where(condition).order_by(letters_t.c.position))
        return [_letter(row) for row in rows]

    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None:
        row = (await self._c.execute(select(letters_t).where(letters_t.c.id == letter_id))).first()
        return _letter(row) if row else None

    async def replayed(self, letter_id: str, at: datetime) -> None:
        await self._c.execute(update(letters_t).where(letters_t.c.id == letter_id).values(replayed_at=at))


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        secret=row.secret,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        position=int(row.position),
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        pending_through=None if row.pending_through is None else int(row.pending_through),
    )


def _letter(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        webhook_id=row.webhook_id,
        position=int(row.position),
        event=dict(row.payload),
        attempts=int(row.attempts),
        last_error=row.last_error,
        failed_at=row.failed_at,
        replayed_at=row.replayed_at,
    )
