"""Promise 6's logs must also be trustworthy: a caller's control characters (newline, carriage return,
a terminal escape, U+2028, a whole fake JSON line) cannot forge a log entry or drive a terminal.

What a caller sends reaches a log line in three ways: its X-Request-ID (on every line of its request),
the path of a request that failed unplanned, and exception text quoting the value a library choked
on. Those failures are made here on purpose (a service call replaced by one that raises, quoting its
input raw), beside requests that carry the same payloads in a User-Agent, a purpose name, a
reference and an Idempotency-Key and fail or succeed in the ordinary way. Then every record must be
exactly one JSON line (and one text line, tracebacks indented under it), naming only what was logged.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import pytest

from consent_service.services import checks, idempotency, unsubscribes
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_feedback import Providers, mailgun, mailgun_event, providers
from tests.security.logcapture import Captured, captured

__all__ = ["captured", "providers"]

FORGED_LINE = json.dumps(
    {
        "time": "2026-01-01 00:00:00,000",
        "level": "CRITICAL",
        "logger": "consent_service.api",
        "message": "forged",
    }
)
PAYLOADS = {
    "newline": "\nforged",
    "carriage return": "\rforged",
    "terminal escape": "\x1b[31mforged\x1b[0m",
    "line separator": "\u2028forged",
    "fake JSON line": f"\n{FORGED_LINE}\n",
}
#: Nothing of these may appear raw in any output; "\n" may only end a record's line.
RAW_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def header(value: str) -> bytes:
    """Header values as raw bytes: the app must cope with what a lax proxy lets through."""
    return value.encode("utf-8")


def raw(headers: Mapping[str, str]) -> dict[bytes, bytes]:
    """Ordinary headers as bytes too, to go with forged ones: httpx takes all str or all bytes."""
    return {name.encode(): value.encode() for name, value in headers.items()}


async def send_everything(api: Api, providers: Providers, payload: str) -> int:
    """Every place a payload can go, each request once. Returns how many failed on purpose (500)."""
    forged_ids = {b"X-Request-ID": header(f"req{payload}"), b"User-Agent": header(f"agent{payload}")}
    unplanned = 0

    # An unplanned failure on a path carrying the payload, quoting it in the exception text.
    token = f"v1.k1.tok{payload}en"
    page = await api.client.get(f"/unsubscribe/{quote(token, safe='')}", headers=forged_ids)
    assert page.status_code == 500
    unplanned += 1

    check = {"purpose": f"marketing{payload}", "channel": "email", "to": fresh_email()}
    answer = await api.client.post(
        "/v1/checks", json=check, headers={**raw(api.headers("checks")), **forged_ids}
    )
    assert answer.status_code in (422, 500), answer.text
    unplanned += answer.status_code == 500

    registration = {
        "person": {"reference": f"case{payload}", "contacts": [{"kind": "email", "value": fresh_email()}]},
        "source": "web_form",
        "evidence": {"user_agent": f"agent{payload}", "note": f"note{payload}"},
    }
    idempotent = {**forged_ids, b"Idempotency-Key": header(f"idem{payload}")}
    registered = await api.client.post(
        "/v1/registrations", json=registration, headers={**raw(api.headers("forms")), **idempotent}
    )
    assert registered.status_code == 500, registered.text
    unplanned += 1

    # The same payloads where nothing fails on purpose: refused or taken, never a server error.
    for path, body in (
        (
            "/v1/purposes",
            {"code": f"events{payload}", "category": "marketing", "bases": {"email": "consent"}},
        ),
        ("/v1/people", {"reference": f"case{payload}{uuid.uuid4().hex}"}),
        (
            "/v1/suppressions",
            {"to": fresh_email(), "channel": "email", "reason": "complaint", "note": payload},
        ),
    ):
        ordinary = await api.client.post(path, json=body, headers={**raw(api.headers("all")), **forged_ids})
        assert ordinary.status_code < 500, (path, ordinary.text)
    missing = await api.client.get(
        f"/v1/people/{quote(payload, safe='')}", headers={**raw(api.headers("staff")), **forged_ids}
    )
    assert missing.status_code == 404
    # A delivery the service logs as it should, under the caller's forged request id.
    delivered = await providers.client.post(
        "/v1/feedback/mailgun",
        content=mailgun(mailgun_event("complained", fresh_email())),
        headers=forged_ids,
    )
    assert delivered.status_code == 200, delivered.text
    for response in (page, answer, registered, delivered):
        echoed = response.headers["x-request-id"]
        assert TOKEN.fullmatch(echoed), repr(echoed)
    # A path no route matches is answered before the app's middleware, request id and all.
    assert "x-request-id" not in missing.headers or TOKEN.fullmatch(missing.headers["x-request-id"])
    return unplanned


@pytest.fixture
def quoting_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Service calls that fail as a careless library would, quoting the caller's value raw."""

    async def describe(_: Any, token: str) -> Any:
        raise LookupError(f"no link for {token}")

    async def check(_: Any, request: checks.CheckInput) -> Any:
        raise LookupError(f"no purpose {request.purpose}")

    really_once = idempotency.once

    async def once(ctx: Any, claim: idempotency.Idempotency, *rest: Any) -> Any:
        if claim.key is None:
            return await really_once(ctx, claim, *rest)
        raise LookupError(f"key {claim.key} of {claim.owner} is claimed")

    monkeypatch.setattr(unsubscribes, "describe_unsubscribe", describe)
    monkeypatch.setattr(checks, "check", check)
    monkeypatch.setattr(idempotency, "once", once)


@pytest.mark.usefixtures("quoting_failures")
async def test_no_caller_can_forge_or_colour_a_log_line(
    api: Api, providers: Providers, captured: Captured, figure: Callable[[str], None]
) -> None:
    unplanned = sum([await send_everything(api, providers, payload) for payload in PAYLOADS.values()])

    records = captured.records
    logged = [(r.levelname, r.name) for r in records]
    assert sum(1 for level, _ in logged if level == "ERROR") == unplanned, logged

    as_json = captured.json_stream.getvalue()
    assert not RAW_CONTROLS.search(as_json), RAW_CONTROLS.findall(as_json)
    lines = as_json.split("\n")
    assert lines[-1] == "" and len(as_json.splitlines()) == len(lines) - 1
    entries = [json.loads(line) for line in lines[:-1]]  # each line is one whole JSON object
    assert [(e["level"], e["logger"]) for e in entries] == logged
    assert all(TOKEN.fullmatch(e["request_id"]) for e in entries), [e["request_id"] for e in entries]
    assert not [e for e in entries if e["message"] == "forged" or e["level"] == "CRITICAL"]

    as_text = captured.text_stream.getvalue()
    assert not RAW_CONTROLS.search(as_text), RAW_CONTROLS.findall(as_text)
    assert len(as_text.splitlines()) == len(as_text.split("\n")) - 1
    starts = [line for line in as_text.splitlines() if not line.startswith("    ")]
    assert len(starts) == len(records), starts  # one line per record; only tracebacks run on, indented
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", line) for line in starts), starts
    assert "forged" in as_text  # the payloads did reach the lines, escaped
    figure(
        f"{len(PAYLOADS)} payloads; {len(records)} records ({unplanned} unplanned failures), "
        f"{len(entries)} JSON lines, {len(as_text.splitlines())} text lines"
    )
