"""Every creating route answers a repeat under the same key with the first answer's very bytes,
including a key whose record was kept by a version that stored the answer rather than the result."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.adapters.sealing import AesGcmSealer
from consent_service.db.sealed import answer_place
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register

Route = Callable[[Api], Awaitable[tuple[str, dict[str, Any], str]]]


async def _registration(api: Api) -> tuple[str, dict[str, Any], str]:
    body = {"person": {"contacts": [{"kind": "email", "value": fresh_email()}]}, "choices": [grant("email")]}
    return "/v1/registrations", {**body, "source": "web_form"}, "forms"


async def _registration_without_choices(api: Api) -> tuple[str, dict[str, Any], str]:
    body = {"person": {"contacts": [{"kind": "email", "value": fresh_email()}]}, "choices": []}
    return "/v1/registrations", {**body, "source": "web_form"}, "forms"


async def _person(api: Api) -> tuple[str, dict[str, Any], str]:
    return (
        "/v1/people",
        {"display_name": "Jo", "contacts": [{"kind": "email", "value": fresh_email()}]},
        "staff",
    )


async def _consents(api: Api) -> tuple[str, dict[str, Any], str]:
    person = (await register(api, fresh_email()))["person_id"]
    return f"/v1/people/{person}/consents", {"choices": [grant("email")], "source": "web_form"}, "forms"


async def _suppression(api: Api) -> tuple[str, dict[str, Any], str]:
    return "/v1/suppressions", {"to": fresh_email(), "channel": "email", "reason": "staff_request"}, "staff"


async def _restriction(api: Api) -> tuple[str, dict[str, Any], str]:
    email = fresh_email()
    person = (await register(api, email))["person_id"]
    body = {"channel": "all", "to": email, "reason": "Shared inbox"}
    return f"/v1/people/{person}/restrictions", body, "staff"


ROUTES: dict[str, Route] = {
    "registration": _registration,
    "registration without choices": _registration_without_choices,
    "person": _person,
    "consents": _consents,
    "suppression": _suppression,
    "restriction": _restriction,
}


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
async def test_a_replay_answers_the_first_answer_byte_for_byte(api: Api, route: Route) -> None:
    path, body, scope = await route(api)
    key = {"Idempotency-Key": f"replay-{uuid.uuid4()}"}
    first = await api.post(path, body, scope, **key)
    again = await api.post(path, body, scope, **key)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert (first.headers.get("idempotent-replayed"), again.headers.get("idempotent-replayed")) == (
        None,
        "true",
    )


async def test_a_record_kept_as_an_answer_by_an_older_version_is_replayed_as_kept(
    api: Api, database: AsyncEngine
) -> None:
    path, body, scope = await _registration(api)
    key = f"older-{uuid.uuid4()}"
    first = await api.post(path, body, scope, **{"Idempotency-Key": key})
    # What the previous version stored: the encoded answer (spaced here, to tell it from a new one).
    kept = json.dumps(first.json(), indent=1)
    sealer = AesGcmSealer(api.settings.encryption_key)  # sealed as migration 0017 sealed older answers
    async with database.begin() as connection:
        owner = (
            await connection.execute(
                text("SELECT owner FROM idempotency_keys WHERE key = :key"), {"key": key}
            )
        ).scalar_one()
        await connection.execute(
            text("UPDATE idempotency_keys SET body = :body WHERE key = :key"),
            {"body": sealer.seal(kept, answer_place(owner, key)), "key": key},
        )
    again = await api.post(path, body, scope, **{"Idempotency-Key": key})
    assert (again.status_code, again.content) == (201, kept.encode())
    assert again.headers.get("idempotent-replayed") == "true"
