"""NDJSON bulk checks: a mailing tool streams its whole list and reads one answer per line, in order."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register
from tests.integration.test_suppressions import suppress

NDJSON = "application/x-ndjson"


async def stream(api: Api, body: bytes, scope: str = "checks", **params: str) -> Any:
    query = {"purpose": "marketing", "channel": "email", **params}
    return await api.client.post(
        "/v1/checks/bulk",
        content=body,
        params={k: v for k, v in query.items() if v},
        headers=api.headers(scope, **{"Content-Type": NDJSON}),
    )


def lines(*objects: Any) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objects)


async def test_answers_come_back_one_per_line_in_input_order(api: Api) -> None:
    granted, suppressed, unknown = fresh_email(), fresh_email(), fresh_email()
    await register(api, granted, choices=[grant("email")])
    await suppress(api, suppressed)
    body = lines(
        {"to": suppressed},
        {"to": granted.upper()},
        b"",  # blank lines are skipped but still counted
        {"to": unknown},
        {"to": "not-an-address"},
        b'{"to": ',
        {"to": granted, "extra": 1},
        {"to": granted},
    )
    response = await stream(api, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(NDJSON)
    answers = [json.loads(line) for line in response.text.splitlines()]
    assert [(a["line"], a.get("allowed"), a.get("reason")) for a in answers] == [
        (1, False, "suppressed"),
        (2, True, "consent_granted"),
        (4, False, "no_consent"),
        (5, False, "contact_invalid"),
        (6, None, None),
        (7, None, None),
        (8, True, "consent_granted"),
    ]
    assert answers[1]["to"] == granted.upper()
    assert "error" in answers[4] and "extra" in answers[5]["error"]


async def test_the_stream_agrees_with_the_json_bulk_check(api: Api) -> None:
    addresses = [fresh_email() for _ in range(30)]
    for address in addresses[:10]:
        await register(api, address, choices=[grant("email")])
    for address in addresses[10:15]:
        await suppress(api, address)
    as_json = await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "email", "to": addresses}, scope="checks"
    )
    streamed = await stream(api, lines(*({"to": a} for a in addresses)))
    expected = [(r["allowed"], r["reason"]) for r in as_json.json()["results"]]
    got = [(a["allowed"], a["reason"]) for a in map(json.loads, streamed.text.splitlines())]
    assert got == expected and expected.count((True, "consent_granted")) == 10


async def test_a_list_longer_than_the_json_limit_is_answered_whole(api: Api) -> None:
    opted_out = fresh_email()
    await suppress(api, opted_out)
    count = 25_000
    body = b"".join(
        b'{"to":"%s"}\n' % (opted_out if i == count - 1 else f"n{i}@bulk.example.org").encode()
        for i in range(count)
    )
    response = await stream(api, body)
    assert response.status_code == 200
    answers = response.text.splitlines()
    assert len(answers) == count
    assert json.loads(answers[-1]) == {
        "line": count,
        "to": opted_out,
        "allowed": False,
        "reason": "suppressed",
    }


async def test_a_bad_request_is_refused_before_any_answer(api: Api) -> None:
    missing = await stream(api, lines({"to": fresh_email()}), purpose="", channel="")
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in missing.json()["errors"]} == {"query.purpose", "query.channel"}

    unknown = await stream(api, lines({"to": fresh_email()}), purpose="no-such-purpose")
    assert unknown.status_code in (404, 422), unknown.text

    wrong_scope = await stream(api, lines({"to": fresh_email()}), scope="forms")
    assert wrong_scope.status_code == 403
