"""A batched lookup's many values travel as one parameter; on PostgreSQL a comma-separated text."""

from __future__ import annotations

import json

import pytest

from consent_service.db.repositories._sql import runs
from consent_service.db.repositories.people import _LINKED


def test_one_value_is_looked_up_by_equality_and_many_by_one_parameter() -> None:
    assert runs(_LINKED, [], "postgresql") == []
    [(statement, bound)] = runs(_LINKED, ["a1"], "postgresql")
    assert statement is _LINKED[0] and bound == {"value": "a1"}
    [(_, on_postgresql)] = runs(_LINKED, ["a1", "b2", "c3"], "postgresql")
    assert on_postgresql == {"values": "a1,b2,c3"}
    [(_, on_sqlite)] = runs(_LINKED, ["a1", "b,2"], "sqlite")
    assert json.loads(on_sqlite["values"]) == ["a1", "b,2"]


def test_a_value_holding_a_comma_is_refused_rather_than_split() -> None:
    with pytest.raises(ValueError, match="comma"):
        runs(_LINKED, ["a1", "b,2"], "postgresql")
