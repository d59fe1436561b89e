"""What the repositories share: the tables they read together, channel columns, and batched lookups.

A check (the hot path) asks about one address. Its statements are built once, at import, and differ
per call only in their parameters: building a statement per call (its objects, its cache key) and
expanding an IN list cost more in Python than PostgreSQL takes to answer. Each comes in two forms:
for one value, by equality, and for a batch of values, by IN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from consent_service.db.models import (
    ConsentEventRow,
    ContactPointRow,
    CurrentConsentRow,
    PersonRow,
    RestrictionRow,
    SuppressionRow,
)
from consent_service.domain.channels import Channel

# Batches stay well under SQLite's and asyncpg's bound-parameter limits.
BATCH = 1000

people_t = PersonRow.__table__
contacts_t = ContactPointRow.__table__
events_t = ConsentEventRow.__table__
current_t = CurrentConsentRow.__table__
suppressions_t = SuppressionRow.__table__
restrictions_t = RestrictionRow.__table__


def channel_in(channel: Channel | None) -> str:
    return channel.value if channel else ""


def channel_out(value: str) -> Channel | None:
    return Channel(value) if value else None


def batches(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT in the dialect's own form, which can say what to do on a conflict."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upserts(table: Any, complete: Callable[[Any], Any]) -> dict[str, Any]:
    """An INSERT of ``table`` per dialect, each completed by ``complete`` (what to do on a conflict),
    built once at import so that a call only binds its values."""
    return {dialect: complete(dialect_insert(dialect, table)) for dialect in ("postgresql", "sqlite")}


Keyed = tuple[Select[Any], Select[Any]]


def keyed(statement: Select[Any], key: ColumnElement[str]) -> Keyed:
    one = statement.where(key == bindparam("value"))
    return one, statement.where(key.in_(bindparam("values", expanding=True)))


def runs(keyed: Keyed, values: Sequence[str], **fixed: Any) -> list[tuple[Select[Any], dict[str, Any]]]:
    """Each statement to run for ``values``, with its parameters."""
    one, many = keyed
    if len(values) == 1:
        return [(one, {"value": values[0], **fixed})]
    return [(many, {"values": batch, **fixed}) for batch in batches(values)]
