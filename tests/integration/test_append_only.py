"""LEGAL #31: the consent ledger is append-only in the database itself, on SQLite and PostgreSQL.

Tried as the service's own database user would (no triggers lifted): every column of an event, a
delete, a truncate. The one change let through is erasure's, blanking an erased person's evidence;
blank evidence on anyone else is still named by the chain.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, String, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from consent_service.db.models import ConsentEventRow, UTCDateTime
from consent_service.domain.ledger import Evidence
from consent_service.services import audit, rights
from tests.integration.conftest import Fresh, register_someone

EVENTS = ConsentEventRow.__table__


@pytest.fixture(autouse=True)
def _postgres_first(request: pytest.FixtureRequest) -> None:
    # The session's PostgreSQL is made by a synchronous fixture, which cannot start inside ``fresh``'s loop.
    if "postgresql" in request.node.name:
        request.getfixturevalue("postgres_url")


def _another_value(column: Any) -> str:
    """A SQL expression giving ``column`` a different value of its own type (the triggers must refuse
    it, not the column's type or a constraint)."""
    if isinstance(column.type, Integer):
        return f"{column.name} + 1000000"
    if isinstance(column.type, UTCDateTime):
        return "'2020-01-01 00:00:00'"
    if isinstance(column.type, String):
        return "'tampered'"
    return """'["tampered"]'"""  # the JSON columns


async def _register(fresh: Fresh) -> str:
    return await register_someone(fresh.context, evidence=Evidence(note="given at the stall", ip="192.0.2.7"))


async def _refused(connection: AsyncConnection, statement: str, **params: Any) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        async with connection.begin():
            await connection.execute(text(statement), params)


async def test_the_database_refuses_to_change_or_delete_a_consent_event(fresh: Fresh) -> None:
    person = await _register(fresh)
    engine = create_async_engine(fresh.url)
    try:
        async with engine.connect() as connection:
            before = (await connection.execute(text("SELECT * FROM consent_events"))).all()
            await connection.rollback()
            assert len(before) == 1
            for column in EVENTS.columns:
                value = """'{"note": "tampered"}'""" if column.name == "evidence" else _another_value(column)
                await _refused(connection, f"UPDATE consent_events SET {column.name} = {value}")  # noqa: S608
            await _refused(connection, "DELETE FROM consent_events WHERE person_id = :p", p=person)
            if connection.dialect.name == "postgresql":
                await _refused(connection, "TRUNCATE consent_events CASCADE")
            after = (await connection.execute(text("SELECT * FROM consent_events"))).all()
            await connection.rollback()
    finally:
        await engine.dispose()
    assert after == before
    assert (await audit.verify(fresh.context)).intact


async def test_erasure_blanks_evidence_and_blank_evidence_on_anyone_else_is_named(fresh: Fresh) -> None:
    erased, living = await _register(fresh), await _register(fresh)
    done = await rights.erase(fresh.context, rights.Erase(erased, "test"))
    assert done.events_kept == 1
    assert (await audit.verify(fresh.context)).intact

    engine = create_async_engine(fresh.url)  # the triggers let blanking through, for anyone: the chain
    async with engine.begin() as connection:  # is what tells an erasure from an intruder's blanking
        await connection.execute(
            text("UPDATE consent_events SET evidence = '{}' WHERE person_id = :p"), {"p": living}
        )
        target = (
            await connection.execute(
                text("SELECT id FROM consent_events WHERE person_id = :p"), {"p": living}
            )
        ).scalar_one()
    await engine.dispose()
    report = await audit.verify(fresh.context)
    assert report.broken is not None and report.broken.id == target
