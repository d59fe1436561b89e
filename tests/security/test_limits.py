"""Promises 4 and 7 under weight: a body too large for any caller, a bulk check one address over the
limit, and an NDJSON stream with a line too long to keep are each refused plainly (never a server
error, never a half-done write), and the refusal records nothing.

The JSON limit is the app's ``MAX_BODY_BYTES`` (4 MiB, read from the app so a change is followed);
the NDJSON stream has no length limit by design, only a limit per line (``ndjson.MAX_LINE_BYTES``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.api.app import MAX_BODY_BYTES
from consent_service.api.ndjson import MAX_LINE_BYTES
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_feedback import Providers, providers
from tests.integration.test_registrations import grant
from tests.security.test_routes import WRITES, registered_routes

__all__ = ["providers"]

PROBLEM = "application/problem+json"


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        return {
            table: int((await connection.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one())  # noqa: S608
            for table in tables
        }


def oversized_registration() -> bytes:
    """A registration that would be valid but for its size: a note one byte past the limit."""
    body = {
        "person": {"contacts": [{"kind": "email", "value": fresh_email()}]},
        "choices": [grant("email")],
        "source": "web_form",
        "evidence": {"note": "x" * MAX_BODY_BYTES},
    }
    return json.dumps(body).encode()


async def test_a_body_over_the_limit_is_413_on_every_write_route_and_records_nothing(
    api: Api, fresh_client: httpx.AsyncClient, database: AsyncEngine, figure: Callable[[str], None]
) -> None:
    writes = [r for r in registered_routes(api) if r.method in WRITES]
    body = oversized_registration()
    before = await row_counts(database)
    refused = []
    for route in writes:
        response = await fresh_client.request(
            route.method,
            route.url(),
            content=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api.keys['all']}"},
        )
        assert response.status_code < 500, (route.key, response.status_code)
        if response.status_code == 413:
            assert response.headers["content-type"].startswith(PROBLEM), route.key
            assert response.json()["status"] == 413
            refused.append(route.key)
    # Routes that refuse before reading a body (no staff session, CSRF, provider not configured) or
    # take none may answer otherwise; every API write that takes a body must refuse this one.
    api_writes = {r.key for r in writes if r.takes_body and r.template.startswith("/v1/")}
    assert api_writes <= set(refused), sorted(api_writes - set(refused))
    assert await row_counts(database) == before
    figure(f"{len(writes)} write routes given {len(body):,} bytes; {len(refused)} answered 413")


async def test_provider_feedback_over_the_limit_is_413_where_a_provider_is_configured(
    providers: Providers, database: AsyncEngine
) -> None:
    """The feedback routes read their raw body themselves, to check its signature: the same limit."""
    before = await row_counts(database)
    for provider in ("ses", "sendgrid", "mailgun"):
        response = await providers.post(provider, oversized_registration())
        assert response.status_code == 413, (provider, response.status_code)
        assert response.headers["content-type"].startswith(PROBLEM)
    assert await row_counts(database) == before


async def test_a_body_with_no_declared_length_is_cut_off_at_the_limit(
    api: Api, database: AsyncEngine
) -> None:
    """Without Content-Length the server only learns the size by reading, and must stop there."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"person": {"contacts": []}, "source": "web_form", "evidence": {"note": "'
        for _ in range(2 * MAX_BODY_BYTES // 65536):
            sent += 65536
            yield b"x" * 65536
        yield b'"}}'

    before = await row_counts(database)
    response = await api.client.post(
        "/v1/registrations",
        content=chunks(),
        headers=api.headers("forms", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await row_counts(database) == before


async def test_a_bulk_check_of_10001_addresses_is_422_naming_the_field(api: Api) -> None:
    addresses = [fresh_email() for _ in range(10_001)]
    over = await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "email", "to": addresses}, "checks"
    )
    assert over.status_code == 422, over.text
    assert over.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in over.json()["errors"]] == ["to"]
    at_limit = await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "email", "to": addresses[:10_000]}, "checks"
    )
    assert at_limit.status_code == 200, at_limit.text
    assert len(at_limit.json()["results"]) == 10_000


async def test_an_ndjson_line_over_its_limit_is_refused_on_its_line_and_the_rest_answered(api: Api) -> None:
    addresses = [fresh_email() for _ in range(3)]
    too_long = json.dumps({"to": "x" * (2 * MAX_LINE_BYTES) + "@example.org"}).encode()
    body = b"".join(
        [
            json.dumps({"to": addresses[0]}).encode() + b"\n",
            too_long + b"\n",
            json.dumps({"to": addresses[1]}).encode() + b"\n",
            b"y" * (MAX_BODY_BYTES + 1) + b"\n",  # one line larger than a whole JSON body may be
            json.dumps({"to": addresses[2]}).encode() + b"\n",
        ]
    )
    response = await api.client.post(
        "/v1/checks/bulk",
        params={"purpose": "marketing", "channel": "email"},
        content=body,
        headers=api.headers("checks", **{"Content-Type": "application/x-ndjson"}),
    )
    assert response.status_code == 200, response.text
    answers = [json.loads(line) for line in response.text.splitlines()]
    assert [a["line"] for a in answers] == [1, 2, 3, 4, 5]
    assert [a.get("to") for a in answers[::2]] == addresses
    for refused in (answers[1], answers[3]):
        assert "allowed" not in refused and str(MAX_LINE_BYTES) in refused["error"], refused


async def test_an_ndjson_stream_that_never_ends_its_line_is_refused_not_held(api: Api) -> None:
    async def one_endless_line() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"z" * 65536  # 4 MiB, never a newline

    response = await api.client.post(
        "/v1/checks/bulk",
        params={"purpose": "marketing", "channel": "email"},
        content=one_endless_line(),
        headers=api.headers("checks", **{"Content-Type": "application/x-ndjson"}),
    )
    assert response.status_code == 200, response.text
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"line": 1, "error": f"line longer than {MAX_LINE_BYTES} bytes"}
    ]
