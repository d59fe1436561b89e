"""What the repositories share: the tables they read together, channel columns, and batched lookups.

A check (the hot path) asks about one address. Its statements are built once, at import, and differ
per call only in their parameters: building a statement per call (its objects, its cache key) and
expanding an IN list cost more in Python than PostgreSQL takes to answer. Each comes in two forms:
for one value, by equality, and for many values (a bulk check's 10,000), by one parameter holding
them all. An expanded IN list would render, cast and bind one placeholder per value on every call,
and need a statement per 1,000 values to stay under the drivers' limits; an array parameter makes
asyncpg check every element's type and PostgreSQL estimate every element's selectivity while it
plans. So on PostgreSQL the values go as one comma-separated text, split by ``string_to_array`` and
joined by ``IN (SELECT unnest(…))``; on SQLite as a JSON array read by ``json_each``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, TypeVar

import msgspec
from sqlalchemy import CompoundSelect, Select, String, bindparam, func, literal_column, select
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


E = TypeVar("E", bound=Enum)


def from_value(kind: type[E]) -> Callable[[str], E]:
    """``kind(value)`` as a dict lookup: calling an enum class runs Python code (about 1 µs, several
    times a simple lookup), which a bulk check's thousands of rows pay for each such column."""
    return {member.value: member for member in kind}.__getitem__


def channel_in(channel: Channel | None) -> str:
    return channel.value if channel else ""


_CHANNELS: dict[str, Channel | None] = {"": None, **{c.value: c for c in Channel}}


def channel_out(value: str) -> Channel | None:
    return _CHANNELS[value]


def batches(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT in the dialect's own form, which can say what to do on a conflict."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upserts(table: Any, complete: Callable[[Any], Any]) -> dict[str, Any]:
    """An INSERT of ``table`` per dialect, each completed by ``complete`` (what to do on a conflict),
    built once at import so that a call only binds its values."""
    return {dialect: complete(dialect_insert(dialect, table)) for dialect in ("postgresql", "sqlite")}


#: A statement for one value, and for many values in each dialect.
Keyed = tuple[Select[Any] | CompoundSelect[Any], dict[str, Select[Any] | CompoundSelect[Any]]]
#: How a statement is keyed: "one" (by equality), or by the values' one parameter in "postgresql" or "sqlite".
FORMS = ("one", "postgresql", "sqlite")


def matching(key: ColumnElement[str], form: str) -> ColumnElement[bool]:
    """``key`` is the one value, or one of the values, as ``form`` (of ``FORMS``) takes them."""
    if form == "one":
        return key == bindparam("value")
    values = bindparam("values", type_=String)
    if form == "postgresql":
        split: Select[Any] = select(func.unnest(func.string_to_array(values, literal_column("','"))))
        return key.in_(split)
    listed: Select[Any] = select(literal_column("value")).select_from(func.json_each(values))
    return key.in_(listed)


def keyed(statement: Select[Any], key: ColumnElement[str]) -> Keyed:
    one, postgresql, sqlite = (statement.where(matching(key, form)) for form in FORMS)
    return one, {"postgresql": postgresql, "sqlite": sqlite}


def runs(
    keyed: Keyed, values: Sequence[str], dialect: str, **fixed: Any
) -> list[tuple[Select[Any] | CompoundSelect[Any], dict[str, Any]]]:
    """The statement to run for ``values``, with its parameters: none for no values, else one."""
    one, many = keyed
    if not values:
        return []
    if len(values) == 1:
        return [(one, {"value": values[0], **fixed})]
    return [(many[dialect], {"values": _one_parameter(values, dialect), **fixed})]


def _one_parameter(values: Sequence[str], dialect: str) -> str:
    if dialect == "sqlite":
        # msgspec writes the array in about a third of the time json.dumps takes (1 ms for 10,000).
        return msgspec.json.encode(list(values)).decode()
    # The values are ids and hex fingerprints; one holding a comma would be split, so it is refused.
    joined = ",".join(values)
    if joined.count(",") != len(values) - 1:
        raise ValueError("a value of a batched lookup holds a comma")
    return joined
