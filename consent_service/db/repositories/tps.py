"""TPS/CTPS screenings in SQL: the screening files imported, and the numbers each found, by fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import TpsNumberRow, TpsScreeningRow
from consent_service.db.repositories._sql import batches, dialect_insert
from consent_service.domain.tps import Register

_SCREENINGS = TpsScreeningRow.__table__
_NUMBERS = TpsNumberRow.__table__


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class SqlTps:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def screened(self, register: Register, day: date) -> bool:
        found = await self._c.execute(
            select(_SCREENINGS.c.id).where(
                _SCREENINGS.c.register == register.value, _SCREENINGS.c.screened_on == _midnight(day)
            )
        )
        return found.first() is not None

    async def add_screening(
        self, screening_id: str, register: Register, day: date, at: datetime, numbers: int, actor: str
    ) -> None:
        await self._c.execute(
            insert(TpsScreeningRow).values(
                id=screening_id,
                register=register.value,
                screened_on=_midnight(day),
                imported_at=at,
                numbers=numbers,
                actor=actor,
            )
        )

    async def found_since(self, register: Register, fingerprints: Sequence[str], day: date) -> set[str]:
        """The fingerprints already recorded for this register by a screening of ``day`` or later."""
        found: set[str] = set()
        for chunk in batches(list(fingerprints)):
            rows = await self._c.execute(
                select(_NUMBERS.c.fingerprint).where(
                    _NUMBERS.c.register == register.value,
                    _NUMBERS.c.fingerprint.in_(chunk),
                    _NUMBERS.c.screened_on >= _midnight(day),
                )
            )
            found.update(rows.scalars())
        return found

    async def record(self, register: Register, fingerprints: Sequence[str], day: date) -> None:
        """Each number found on ``day``; a number keeps the latest day a screening found it."""
        if not fingerprints:
            return
        statement = dialect_insert(self._dialect, TpsNumberRow)
        statement = statement.on_conflict_do_update(
            index_elements=["fingerprint", "register"],
            set_={"screened_on": statement.excluded.screened_on},
            where=_NUMBERS.c.screened_on < statement.excluded.screened_on,
        )
        await self._c.execute(
            statement,
            [
                {"fingerprint": fp, "register": register.value, "screened_on": _midnight(day)}
                for fp in fingerprints
            ],
        )

    async def status(self, fingerprints: Sequence[str]) -> tuple[frozenset[str], date | None]:
        """The fingerprints on a register by its latest screening, and the oldest of the registers'
        latest screening days (None: nothing was ever screened)."""
        latest = {
            register: day
            for register, day in (
                await self._c.execute(
                    select(_SCREENINGS.c.register, func.max(_SCREENINGS.c.screened_on)).group_by(
                        _SCREENINGS.c.register
                    )
                )
            ).all()
        }
        if not latest:
            return frozenset(), None
        listed: set[str] = set()
        if fingerprints:
            rows = await self._c.execute(
                select(_NUMBERS.c.fingerprint, _NUMBERS.c.register, _NUMBERS.c.screened_on).where(
                    _NUMBERS.c.fingerprint.in_(list(fingerprints))
                )
            )
            for fingerprint, register, day in rows.all():
                # A number the latest screening of its register no longer found has left the register.
                if register in latest and _as_utc(day) >= _as_utc(latest[register]):
                    listed.add(fingerprint)
        return frozenset(listed), min(_as_utc(day) for day in latest.values()).date()


def _as_utc(value: datetime) -> datetime:
    """A core ``select`` of a column hands SQLite's naive value back as it is: read it as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
