"""``POST /v1/checks`` answered by ``CheckShortcut`` says exactly what Litestar's route says.

Every request here is sent twice: through the app as served (the shortcut first) and straight to
Litestar's own handler behind it. The answers must match byte for byte (but for the request id), for
the ordinary checks the shortcut answers and for every request it hands on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from consent_service.api.check_shortcut import LONGEST_BODY, CheckShortcut
from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_observability import metric
from tests.integration.test_registrations import grant, register

ASGI = Callable[[Any, Callable[[], Awaitable[Any]], Any], Awaitable[None]]


def client_of(api: Api, handler: ASGI) -> httpx.AsyncClient:
    """A client of the app whose own handler (inside its ``__call__``) is ``handler``."""
    app = api.app
    assert app is not None

    async def called(scope: Any, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        scope["app"] = scope["litestar_app"] = app
        scope.setdefault("state", {})
        await handler(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=called), base_url="http://testserver")


def shortcut_of(api: Api) -> CheckShortcut:
    assert api.app is not None and isinstance(api.app.asgi_handler, CheckShortcut)
    return api.app.asgi_handler


def litestar_only(api: Api) -> httpx.AsyncClient:
    """A client of the app with the shortcut stepped past: its route, as it answered before."""
    return client_of(api, shortcut_of(api).inner)


async def both(api: Api, content: bytes, headers: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
    sent = {"Content-Type": "application/json", **headers}
    served = await api.client.post("/v1/checks", content=content, headers=sent)
    async with litestar_only(api) as client:
        routed = await client.post("/v1/checks", content=content, headers=sent)
    return served, routed


def same(served: httpx.Response, routed: httpx.Response) -> None:
    assert served.status_code == routed.status_code, (served.text, routed.text)
    assert served.content == routed.content
    without_id = [(k, v) for k, v in served.headers.multi_items() if k != "x-request-id"]
    assert without_id == [(k, v) for k, v in routed.headers.multi_items() if k != "x-request-id"]
    # Litestar's answer to a refusal its middleware raises carries no request id; the others do.
    assert ("x-request-id" in served.headers) == ("x-request-id" in routed.headers)


def body(**fields: Any) -> bytes:
    return httpx.Request("POST", "/", json={"purpose": "marketing", **fields}).content


async def test_an_ordinary_check_is_answered_as_the_route_answers_it(api: Api) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    person = (await register(api, email, mobile, [grant("email"), grant("sms")]))["person_id"]
    key = api.headers("checks")
    postal = {"lines": ["1 Any Street"], "postcode": "SW1A 1AA"}
    for content in (
        body(channel="email", to=email),
        body(channel="email", to=fresh_email()),
        body(channel="email", to=email.upper()),
        body(channel="sms", to=mobile),
        body(channel="post", to=postal),
        body(channel="email", person_id=person),
        body(channel="email", to=email, at="2020-01-01T00:00:00Z"),
        body(purpose="administrative", channel="email", to=email),
        body(purpose="testimonial", person_id=person),
    ):
        served, routed = await both(api, content, key)
        assert served.status_code == 200, served.text
        same(served, routed)


async def test_a_check_asking_for_links_gets_them_from_the_shortcut(api: Api) -> None:
    email = fresh_email()
    await register(api, email, None, [grant("email")])
    served, routed = await both(api, body(channel="email", to=email, links=True), api.headers("checks"))
    assert served.status_code == routed.status_code == 200
    # The links are signed afresh for each answer, so they are compared by what they hold.
    assert served.json().keys() == routed.json().keys()
    assert served.json()["links"].keys() == routed.json()["links"].keys()
    assert served.json()["links"]["url"].startswith("http")
    assert served.json()["links"]["headers"].keys() == {"List-Unsubscribe", "List-Unsubscribe-Post"}


#: Each request the shortcut hands on, with its key: a scope's key, a literal header, or none ("").
REFUSED = {
    "no key": (body(channel="email", to="jo@example.org"), ""),
    "a key not recognised": (body(channel="email", to="jo@example.org"), "Bearer csk_nope"),
    "not a bearer key": (body(channel="email", to="jo@example.org"), "Basic am86eA=="),
    "a key without the checks scope": (body(channel="email", to="jo@example.org"), "forms"),
    "an unknown purpose": (body(purpose="raffle", channel="email", to="jo@example.org"), "checks"),
    "an address that is not one": (body(channel="email", to="jo at example"), "checks"),
    "an unknown field": (body(channel="email", to="jo@example.org", priority=1), "checks"),
    "a number for a time": (body(channel="email", to="jo@example.org", at=0), "checks"),
    "not JSON": (b'{"purpose": "marketing", "channel": "em', "checks"),
    "a NUL character": (body(channel="email", to="jo@example.org\u0000"), "checks"),
    "a time before UTC's first": (
        body(channel="email", to="jo@example.org", at="0001-01-01T00:00:00+01:00"),
        "checks",
    ),
}


@pytest.mark.parametrize("content, key", REFUSED.values(), ids=REFUSED.keys())
async def test_every_other_request_is_answered_by_the_route(api: Api, content: bytes, key: str) -> None:
    headers = api.headers(key) if key in api.keys else {"Authorization": key} if key else {}
    served, routed = await both(api, content, headers)
    assert served.status_code != 200, served.text
    assert served.headers["content-type"].startswith("application/problem+json")
    same(served, routed)


async def test_a_check_longer_than_the_shortcut_reads_is_answered_by_the_route(api: Api) -> None:
    email = fresh_email()
    await register(api, email, None, [grant("email")])
    padded = body(channel="email", to=email) + b" " * LONGEST_BODY
    served, routed = await both(api, padded, api.headers("checks"))
    assert served.json()["allowed"] is True
    same(served, routed)


async def test_the_shortcut_counts_as_the_route_did_and_echoes_the_request_id(api: Api) -> None:
    email = fresh_email()
    await register(api, email, None, [grant("email")])
    answered = {"method": "POST", "path": "/v1/checks", "status_code": "200"}
    refused = {**answered, "status_code": "422"}
    checked = {"purpose": "marketing", "channel": "email", "result": "allowed"}
    before = [await metric(api, "consent_requests_total", **labels) for labels in (answered, refused)]
    checks_before = await metric(api, "consent_checks_total", **checked)

    key = api.headers("checks", **{"X-Request-ID": "mailing-run-7"})
    allowed = await api.client.post(
        "/v1/checks", json={"purpose": "marketing", "channel": "email", "to": email}, headers=key
    )
    unknown = await api.client.post(
        "/v1/checks", json={"purpose": "raffle", "channel": "email", "to": email}, headers=key
    )

    assert (allowed.status_code, unknown.status_code) == (200, 422)
    assert allowed.headers["x-request-id"] == unknown.headers["x-request-id"] == "mailing-run-7"
    after = [await metric(api, "consent_requests_total", **labels) for labels in (answered, refused)]
    assert after == [before[0] + 1, before[1] + 1]
    # The refused check was tried by the shortcut, then by the route: counted once, as refused.
    assert await metric(api, "consent_checks_total", **checked) == checks_before + 1


async def test_an_ordinary_check_never_reaches_litestar_and_a_refused_one_does(api: Api) -> None:
    assert api.app is not None
    routed = shortcut_of(api).inner
    handed_on: list[bytes] = []

    async def litestar(scope: Any, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        handed_on.append(dict(scope["headers"]).get(b"x-request-id", b""))
        await routed(scope, receive, send)

    email = fresh_email()
    await register(api, email, None, [grant("email")])
    async with client_of(api, CheckShortcut(api.app, litestar)) as client:
        key = api.headers("checks", **{"Content-Type": "application/json"})
        allowed = await client.post("/v1/checks", content=body(channel="email", to=email), headers=key)
        assert (allowed.status_code, allowed.json()["allowed"], handed_on) == (200, True, [])
        unknown = await client.post(
            "/v1/checks", content=body(purpose="raffle", channel="email"), headers=key
        )
    assert unknown.status_code == 422
    # Handed on once, under the request id the shortcut's attempt logged with.
    assert handed_on == [unknown.headers["x-request-id"].encode()]


async def test_a_header_sent_twice_is_left_to_the_route(api: Api) -> None:
    """Two keys in one request: the shortcut must not pick another of them than Litestar would."""
    headers = [
        ("Authorization", f"Bearer {api.keys['forms']}"),
        ("Authorization", f"Bearer {api.keys['checks']}"),
        ("Content-Type", "application/json"),
    ]
    content = body(channel="email", to=fresh_email())
    served = await api.client.post("/v1/checks", content=content, headers=headers)
    async with litestar_only(api) as client:
        routed = await client.post("/v1/checks", content=content, headers=headers)
    same(served, routed)
