"""What operators see: Prometheus figures for checks, opt-outs and requests, request ids, and logs
that never carry a family's contact details."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest

from consent_service import logs
from consent_service.domain.errors import StoreUnavailable
from consent_service.services.keys import KeyRing
from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_registrations import grant, register


async def metric(api: Api, name: str, **labels: str) -> float:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    total = 0.0
    for line in response.text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_checks_by_result_and_reason_and_opt_outs_by_source(api: Api) -> None:
    denied = {"purpose": "marketing", "channel": "email", "result": "denied"}
    before = await metric(api, "consent_checks_total", **denied)
    opt_outs = await metric(api, "consent_opt_outs_total", kind="withdrawal", via="unsubscribe_link")
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    links = (
        await api.post(
            "/v1/unsubscribe-links", {"to": email, "channel": "email", "purpose": "marketing"}, scope="checks"
        )
    ).json()
    await api.client.post(
        links["url"].removeprefix("http://testserver"), data={"List-Unsubscribe": "One-Click"}
    )
    assert person
    assert (await api.check("email", email))["allowed"] is False
    await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "email", "to": [email, email]}, scope="checks"
    )
    assert await metric(api, "consent_checks_total", **denied) == before + 3
    assert (
        await metric(api, "consent_opt_outs_total", kind="withdrawal", via="unsubscribe_link") == opt_outs + 1
    )


async def test_the_time_from_an_unsubscribe_to_its_effect_is_published(api: Api) -> None:
    """Gmail and Yahoo give two days; the figure shows how far inside that an unsubscribe takes effect."""

    async def observed() -> tuple[float, float]:
        count = await metric(api, "consent_unsubscribe_effect_seconds_count", via="database")
        within = await metric(api, "consent_unsubscribe_effect_seconds_bucket", via="database", le="10.0")
        return count, within

    before = await observed()
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    minted = await api.post(
        "/v1/unsubscribe-links", {"to": email, "channel": "email", "purpose": "marketing"}, scope="checks"
    )
    for _ in range(2):  # the repeat changes nothing, so it is not timed again
        await api.client.post(minted.json()["url"].removeprefix("http://testserver"))
    assert (await api.check("email", email))["allowed"] is False

    assert await observed() == (before[0] + 1, before[1] + 1)


async def test_request_latency_is_labelled_by_route_never_by_token(api: Api) -> None:
    email = fresh_email()
    links = (
        await api.post(
            "/v1/unsubscribe-links", {"to": email, "channel": "email", "purpose": "marketing"}, scope="checks"
        )
    ).json()
    token_path = links["url"].removeprefix("http://testserver")
    await api.client.get(token_path)
    text = (await api.client.get("/metrics")).text
    assert "consent_request_duration_seconds_bucket" in text
    assert token_path.rsplit("/", 1)[1] not in text
    assert 'path="/unsubscribe/{token' in text


async def test_refusals_raised_before_the_handler_are_counted_with_their_status(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 5xx alert sees the database away even when it is the key lookup that cannot reach it."""
    route = {"method": "GET", "path": "/v1/purposes"}
    refused = await metric(api, "consent_requests_total", status_code="401", **route)
    unavailable = await metric(api, "consent_requests_total", status_code="503", **route)
    assert (await api.client.get("/v1/purposes")).status_code == 401

    async def database_away(ring: KeyRing, secret: str) -> None:
        raise StoreUnavailable("the database did not answer")

    monkeypatch.setattr(KeyRing, "recognise", database_away)
    assert (
        await api.client.get("/v1/purposes", headers={"Authorization": "Bearer csk_x"})
    ).status_code == 503
    monkeypatch.undo()
    assert await metric(api, "consent_requests_total", status_code="401", **route) == refused + 1
    assert await metric(api, "consent_requests_total", status_code="503", **route) == unavailable + 1
    assert await metric(api, "consent_requests_error_total", status_code="503", **route) >= 1


async def test_a_request_id_is_echoed_or_made(api: Api) -> None:
    echoed = await api.client.get("/health/live", headers={"X-Request-ID": "crm-7f3a"})
    assert echoed.headers["x-request-id"] == "crm-7f3a"
    made = await api.client.get("/health/live", headers={"X-Request-ID": "bad id with spaces <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    config = logs.log_config("json")
    config["handlers"]["main"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_log_lines_are_json_with_the_request_id_and_no_contact_details(json_log: io.StringIO) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    token = logs.request_id.set("req-42")
    try:
        logging.getLogger("consent_service.test").error(
            "duplicate key (value)=(%s) for %s at SW1A 1AA via /unsubscribe/v1.k1.abcDEF_123 at %s",
            email,
            mobile,
            "2026-11-22 14:00:00",
        )
    finally:
        logs.request_id.reset(token)
    line = json.loads(json_log.getvalue().splitlines()[-1])
    assert line["level"] == "ERROR" and line["request_id"] == "req-42"
    message = line["message"]
    assert email not in message and mobile not in message and mobile.replace(" ", "") not in message
    assert "SW1A" not in message and "abcDEF_123" not in message
    assert "[email]" in message and "[phone]" in message and "/unsubscribe/[token]" in message
    assert "2026-11-22 14:00:00" in message  # times are not mistaken for phone numbers
