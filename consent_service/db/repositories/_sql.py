"""What the repositories share: the tables they read together, channel columns, and batched lookups.

A check (the hot path) asks about one address. Its statements are built once, at import, and differ
per call only in their parameters: building a statement per call (its objects, its cache key) and
expanding an IN list cost more in Python than PostgreSQL takes to answer. Each comes in two forms:
for one value, by equality, and for many values (a bulk check's 10,000), by one parameter holding
them all: a PostgreSQL array (``= ANY``), or on SQLite a JSON array read by ``json_each``. An
expanded IN list would render, cast and bind one placeholder per value on every call, and need a
statement per 1,000 values to stay under the drivers' limits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, String, any_, bindparam, func, literal_column, select
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


#: A statement for one value, and for many values in each dialect.
Keyed = tuple[Select[Any], dict[str, Select[Any]]]


def keyed(statement: Select[Any], key: ColumnElement[str]) -> Keyed:
    one = statement.where(key == bindparam("value"))
    in_array = key == any_(bindparam("values", type_=postgresql.ARRAY(String)))
    in_json = key.in_(select(literal_column("value")).select_from(func.json_each(bindparam("values"))))
    return one, {"postgresql": statement.where(in_array), "sqlite": statement.where(in_json)}


def runs(
    keyed: Keyed, values: Sequence[str], dialect: str, **fixed: Any
) -> list[tuple[Select[Any], dict[str, Any]]]:
    """The statement to run for ``values``, with its parameters: none for no values, else one."""
    one, many = keyed
    if not values:
        return []
    if len(values) == 1:
        return [(one, {"value": values[0], **fixed})]
    bound = list(values) if dialect == "postgresql" else json.dumps(list(values))
    return [(many[dialect], {"values": bound, **fixed})]
