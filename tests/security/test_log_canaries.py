"""Promise 6, logs carry no contact details, tokens or keys: plant canaries (an address, a mobile, a
postal address, a family's link tokens, API keys), drive every path they can take, as callers get it
right and wrong, with the service logging everything it can (DEBUG), then look for any spelling of
any canary in every line, JSON and text, and in every record's arguments and extra fields.

The service logs little on purpose, so the run also posts provider feedback (which logs a line per
delivery and carries the bounced address), and makes requests fail where nothing planned for it: an
exception that quotes a contact detail, and a database error on a statement carrying them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from consent_service.db.repositories import SqlIdempotency
from consent_service.services import checks, unsubscribes
from consent_service.services.staff import create_account
from tests.integration.conftest import Api
from tests.integration.test_feedback import (
    Providers,
    mailgun,
    mailgun_event,
    providers,
    sendgrid,
    sendgrid_event,
    ses_bounce,
    sns,
)
from tests.integration.test_registrations import grant
from tests.security.logcapture import Captured, captured

__all__ = ["captured", "providers"]

NDJSON = {"Content-Type": "application/x-ndjson"}
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@dataclass
class Canaries:
    email: str
    mobile: str  # as a form takes it: 07xxx xxxxxx
    postcode: str
    street: str
    key: str = ""
    unsubscribe: str = ""
    preferences: str = ""

    @property
    def e164(self) -> str:
        return "+44" + self.mobile.replace(" ", "")[1:]

    @property
    def postal(self) -> dict[str, Any]:
        return {"lines": [self.street, "Leeds"], "postcode": self.postcode}

    def spellings(self) -> dict[str, set[str]]:
        """Each canary in every form it could be written in: as given, folded and normalised."""
        national = self.mobile.replace(" ", "")
        forms = {
            "email": {self.email, self.email.split("@")[0]},
            "mobile": {self.mobile, national, national[1:], self.e164, f"+44 {self.mobile[1:]}"},
            "postcode": {self.postcode, self.postcode.replace(" ", "")},
            "street": {self.street, self.street.split()[1]},
            "api key": {self.key, self.key.removeprefix("csk_")},
        }
        for name, token in (("unsubscribe token", self.unsubscribe), ("preferences token", self.preferences)):
            # The whole token, and its payload and its signature, each long enough to find alone.
            forms[name] = {token, *token.split(".")[2:]}
        return {
            name: {f for form in spelt if form for f in (form, form.lower(), form.upper())}
            for name, spelt in forms.items()
        }


def new_canaries() -> Canaries:
    tag = uuid.uuid4().hex[:12]
    letters = "".join(secrets.choice("ABDEFGHJLNPQRSTUWXYZ") for _ in range(3))
    return Canaries(
        email=f"canary.{tag}@example.org",
        mobile=f"07{secrets.choice('4789')}{secrets.randbelow(100):02d} {secrets.randbelow(10**6):06d}",
        postcode=f"L{letters[0]}{secrets.randbelow(9) + 1} {secrets.randbelow(10)}{letters[1:]}",
        street=f"{secrets.randbelow(900) + 1} Canary{tag} Road",
    )


def found_in(lines: Iterable[str], spellings: dict[str, set[str]]) -> list[str]:
    return [
        f"{canary} {form!r}: {line[:300]!r}"
        for line in lines
        for canary, forms in spellings.items()
        for form in forms
        if form in line
    ]


class Caller:
    """The app's client, counting calls and failing on any server error."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.calls = 0

    async def __call__(self, method: str, path: str, scope: str | None = "all", **kw: Any) -> httpx.Response:
        self.calls += 1
        headers = {"Authorization": f"Bearer {self.api.keys[scope]}"} if scope else {}
        headers |= kw.pop("headers", {})
        response: httpx.Response = await self.api.client.request(method, path, headers=headers, **kw)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        return response


async def as_callers_do(go: Caller, bird: Canaries) -> str:
    """Registration, checks, lookups, suppression, links and the families' pages. Returns the person."""
    contacts = [
        {"kind": "email", "value": bird.email.upper()},
        {"kind": "phone", "value": bird.mobile},
        {"kind": "postal", "value": bird.postal},
    ]
    body = {"person": {"contacts": contacts}, "choices": [grant("email"), grant("sms")], "source": "web_form"}
    registered = await go("POST", "/v1/registrations", "forms", json=body)
    assert registered.status_code == 201, registered.text
    person: str = registered.json()["person_id"]
    replay = {"Idempotency-Key": f"canary-{bird.email}"}
    await go("POST", "/v1/registrations", "forms", json=body, headers=replay)
    await go("POST", "/v1/registrations", "forms", json={**body, "source": "import"}, headers=replay)

    sent = [("email", bird.email), ("sms", bird.e164), ("phone", bird.mobile), ("post", bird.postal)]
    for channel, to in sent:
        answer = await go(
            "POST", "/v1/checks", "checks", json={"purpose": "marketing", "channel": channel, "to": to}
        )
        assert answer.status_code == 200, answer.text
    bulk = {"purpose": "marketing", "channel": "sms", "to": [bird.mobile, bird.e164]}
    await go("POST", "/v1/checks/bulk", "checks", json=bulk)
    stream = f'{{"to": "{bird.email}"}}\n{{"to": "{bird.email}", "x": 1}}\n{{"to": \n'.encode()
    await go(
        "POST", "/v1/checks/bulk?purpose=marketing&channel=email", "checks", content=stream, headers=NDJSON
    )

    for query in ({"email": bird.email}, {"phone": bird.mobile}, {"reference": bird.street}):
        assert (await go("GET", "/v1/people", "staff", params=query)).status_code == 200
    await go("GET", f"/v1/people/{person}", "staff")
    await go("GET", f"/v1/people/{person}/export", "admin")
    await go("GET", f"/v1/people/{person}/export?format=text", "admin")
    await go("GET", "/v1/suppressions/lookup", "checks", params={"to": bird.email, "channel": "email"})
    entry = {"to": bird.mobile, "channel": "sms", "reason": "complaint", "note": f"rang from {bird.street}"}
    assert (await go("POST", "/v1/suppressions", "staff", json=entry)).status_code == 201
    restriction = {"channel": "post", "to": bird.postal, "reason": "safeguarding"}
    await go("POST", f"/v1/people/{person}/restrictions", "staff", json=restriction)

    link = {"to": bird.email, "channel": "email", "purpose": "marketing"}
    minted = await go("POST", "/v1/unsubscribe-links", "checks", json=link)
    assert minted.status_code == 201, minted.text
    bird.unsubscribe = minted.json()["url"].rsplit("/", 1)[1]
    bird.preferences = minted.json()["preferences_url"].rsplit("/", 1)[1]
    await go("GET", f"/unsubscribe/{bird.unsubscribe}", None)
    page = await go("GET", f"/preferences/{bird.preferences}", None)
    csrf = _CSRF.search(page.text)
    assert csrf, "the preferences page carries its CSRF token"
    form = {"_csrf_token": csrf[1], "choice:marketing:sms": "no", "notice:marketing": "1"}
    await go("POST", f"/preferences/{bird.preferences}", None, data=form)
    await go("POST", f"/preferences/{bird.preferences}", None, data={"choice:marketing:sms": "no"})
    one_click = {"List-Unsubscribe": "One-Click"}
    assert (await go("POST", f"/unsubscribe/{bird.unsubscribe}", None, data=one_click)).status_code == 200
    return person


async def as_callers_get_it_wrong(go: Caller, bird: Canaries) -> None:
    """Bad values, malformed bodies, unknown fields, wrong or forged keys, tampered tokens, 404s."""
    wrong_kind = {"person": {"contacts": [{"kind": "email", "value": bird.mobile}]}, "source": "web_form"}
    await go("POST", "/v1/registrations", "forms", json=wrong_kind)
    unknown = {"person": {"contacts": [], "home": bird.postal}, "source": "web_form"}
    await go("POST", "/v1/registrations", "forms", json=unknown)
    truncated = f'{{"to": "{bird.email}", "purpose"'.encode()
    await go("POST", "/v1/checks", "checks", content=truncated, headers={"Content-Type": "application/json"})
    bad_postcode = {"lines": [bird.street], "postcode": bird.postcode + "Q"}
    await go(
        "POST", "/v1/checks", "checks", json={"purpose": "marketing", "channel": "post", "to": bad_postcode}
    )
    check = {"purpose": "marketing", "channel": "email", "to": bird.email}
    await go("POST", "/v1/checks", "forms", json=check)
    await go("POST", "/v1/checks", None, json=check)
    await go("POST", "/v1/checks", None, json=check, headers={"Authorization": f"Bearer {bird.key}x"})
    await go("POST", "/v1/checks", None, json=check, headers={"Authorization": f"Bearer {bird.email}"})
    await go("GET", f"/v1/people/{bird.email}", "staff")
    await go("GET", f"/v1/people/{uuid.uuid4()}", "staff", params={"email": bird.email})
    await go("GET", f"/v1/no-such-route/{bird.e164}", "staff")
    await go("GET", "/v1/people", "staff", params={"email": bird.email, "phone": bird.mobile})
    await go("GET", "/v1/suppressions/lookup", "checks", params={"to": bird.postcode, "channel": "post"})
    await go("POST", "/v1/unsubscribe-links", "checks", json={"to": bird.mobile, "channel": "email"})
    await go("POST", "/v1/keys", "checks", json={"name": bird.email, "scopes": ["admin"]})
    await go("POST", "/v1/keys", "all", json={"name": bird.email, "scopes": []})
    await go("GET", f"/unsubscribe/{bird.unsubscribe[:-3]}xyz", None)
    await go("POST", f"/unsubscribe/{bird.email}", None, data={"List-Unsubscribe": "One-Click"})
    await go("GET", f"/preferences/{bird.preferences[:-2]}", None)


async def at_the_staff_page(go: Caller, api: Api, bird: Canaries, person: str) -> None:
    """A failed sign-in with contact details for credentials, then searches by each detail."""
    username = f"staff.{uuid.uuid4().hex[:10]}"
    await create_account(api.context, username, "Canary Staff", PASSWORD)
    page = await go("GET", "/staff/sign-in", None)
    token = _CSRF.search(page.text)
    assert token
    csrf = {"_csrf_token": token[1].replace("&#34;", '"')}
    await go("POST", "/staff/sign-in", None, data={**csrf, "username": bird.email, "password": bird.mobile})
    signed_in = await go(
        "POST", "/staff/sign-in", None, data={**csrf, "username": username, "password": PASSWORD}
    )
    assert signed_in.status_code == 303, signed_in.text
    for query in (bird.email, bird.mobile, bird.e164, bird.postcode, bird.street):
        assert (await go("GET", "/staff", None, params={"q": query})).status_code == 200
    await go("GET", f"/staff/people/{person}", None)


async def as_providers_report(providers: Providers, bird: Canaries) -> int:
    """Bounces and complaints name the address: each delivery is logged as one line of counts."""
    grid_body, grid_headers = sendgrid([sendgrid_event("spamreport", bird.email)])
    failed = mailgun_event("failed", bird.email.upper(), severity="permanent", reason="bounce")
    deliveries: list[tuple[str, bytes, dict[str, str]]] = [
        ("mailgun", mailgun(mailgun_event("complained", bird.email)), {}),
        ("mailgun", mailgun(failed), {}),
        ("sendgrid", grid_body, grid_headers),
        ("ses", json.dumps(sns(ses_bounce(bird.email))).encode(), {}),
        ("ses", json.dumps(sns("Confirm.", kind="SubscriptionConfirmation")).encode(), {}),
    ]
    for provider, body, headers in deliveries:
        response = await providers.post(provider, body, **headers)
        assert response.status_code == 200, (provider, response.text)
    return len(deliveries)


@pytest.mark.usefixtures("fresh_client")
async def test_no_canary_reaches_a_log_line(
    api: Api, providers: Providers, captured: Captured, figure: Callable[[str], None]
) -> None:
    bird = new_canaries()
    made = await api.post("/v1/keys", {"name": "canary key", "scopes": ["checks"]}, scope="all")
    bird.key = made.json()["key"]
    go = Caller(api)
    person = await as_callers_do(go, bird)
    await as_callers_get_it_wrong(go, bird)
    await at_the_staff_page(go, api, bird, person)
    deliveries = await as_providers_report(providers, bird)
    used = await api.client.post(
        "/v1/checks",
        json={"purpose": "marketing", "channel": "email", "to": bird.email},
        headers={"Authorization": f"Bearer {bird.key}"},
    )
    assert used.status_code == 200

    spellings = bird.spellings()
    spellings["fixture keys"] = {k for key in api.keys.values() for k in (key, key.removeprefix("csk_"))}
    found = [
        f"{where}: {hit}"
        for where, lines in (
            ("JSON", captured.json_lines),
            ("text", captured.text_lines),
            ("record", captured.raw_parts()),
        )
        for hit in found_in(lines, spellings)
    ]
    assert found == [], f"{len(found)} finds, the first:\n" + "\n".join(found[:20])
    # The capture must have seen the lines the run is known to cause, or finding nothing means nothing.
    feedback = [line for line in captured.json_lines if "feedback" in line or "SNS" in line]
    assert len(feedback) >= deliveries, captured.json_lines
    searched = sum(len(forms) for forms in spellings.values())
    figure(
        f"{go.calls + deliveries + 2} requests; {len(captured.json_lines)} JSON and "
        f"{len(captured.text_lines)} text lines, {len(captured.records)} records; "
        f"{len(spellings)} canaries in {searched} spellings"
    )


async def test_an_unplanned_failure_quoting_contact_details_is_logged_redacted(
    api: Api, captured: Captured, monkeypatch: pytest.MonkeyPatch, figure: Callable[[str], None]
) -> None:
    """Exception text is the usual way a detail slips into a log (a driver or library quoting the
    value it choked on): the redaction must catch every shape it knows, in any case or spelling."""
    bird = new_canaries()
    minted = await api.post("/v1/unsubscribe-links", {"to": bird.email, "channel": "email"}, scope="checks")
    bird.unsubscribe = minted.json()["url"].rsplit("/", 1)[1]
    quoted = (
        f"no row for {bird.email.upper()} / {bird.email} / {bird.mobile} / {bird.e164} / "
        f"+44 {bird.mobile[1:]} / {bird.postcode} / {bird.postcode.replace(' ', '')}"
    )

    async def fails(*_: Any, **__: Any) -> Any:
        raise LookupError(quoted)

    monkeypatch.setattr(checks, "check", fails)
    monkeypatch.setattr(unsubscribes, "describe_unsubscribe", fails)
    failing = [
        await api.post(
            "/v1/checks", {"purpose": "marketing", "channel": "email", "to": bird.email}, "checks"
        ),
        await api.client.get(f"/unsubscribe/{bird.unsubscribe}"),
    ]
    for response in failing:
        assert response.status_code == 500
        assert bird.email not in response.text and bird.unsubscribe not in response.text
    errors = [line for line in captured.json_lines if '"level": "ERROR"' in line]
    assert len(errors) == len(failing), captured.json_lines
    assert all("[email]" in line and "[phone]" in line and "[postcode]" in line for line in errors)
    assert any("/unsubscribe/[token]" in line for line in errors)

    spellings = {name: forms for name, forms in bird.spellings().items() if name != "street"}
    found = found_in([*captured.json_lines, *captured.text_lines], spellings)
    assert found == [], "\n".join(found[:20])
    figure(f"{len(errors)} error lines with tracebacks, {sum(map(len, spellings.values()))} spellings")


async def test_a_database_error_names_the_statement_but_no_value(
    api: Api, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value no redaction can recognise (a street, a lower-case postcode) must not reach a log
    through the text of a database error, which by default quotes every parameter of the statement."""
    bird = new_canaries()
    values = (bird.street, bird.email, bird.postcode.lower())
    if api.settings.database.url.startswith("sqlite"):
        # More values than placeholders: a programming error, not "the database is away" (a 503).
        statement = "SELECT ?"
    else:
        statement = "SELECT * FROM no_such_table WHERE a = $1 OR b = $2 OR c = $3"

    async def broken_claim(self: SqlIdempotency, *_: Any) -> None:
        await self._c.exec_driver_sql(statement, values)

    monkeypatch.setattr(SqlIdempotency, "claim", broken_claim)
    body = {"person": {"contacts": [{"kind": "email", "value": bird.email}]}, "source": "web_form"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    response = await api.post("/v1/registrations", body, scope="forms", **key)
    assert response.status_code == 500, response.text
    errors = [line for line in captured.json_lines if '"level": "ERROR"' in line]
    assert len(errors) == 1, captured.json_lines
    assert statement.split()[0] in errors[0] and "hidden" in errors[0], errors[0]
    lines = [*captured.json_lines, *captured.text_lines]
    assert found_in(lines, {"street": {bird.street, bird.street.lower()}, "postcode": {values[2]}}) == []


@pytest.mark.parametrize("before", ["\n", "\r\n", "\t", "(", "="])
def test_a_detail_against_a_line_break_or_bracket_is_still_redacted(captured: Captured, before: str) -> None:
    """Redaction must see the text as logged, not as encoded: in JSON a newline is written ``\\n``,
    and a pattern run over that would take the ``n`` for part of a word and pass the number by."""
    bird = new_canaries()
    logging.getLogger("consent_service.test").error(
        "failed:%s%s%s%s%s%s", before, bird.mobile, before, bird.email, before, bird.postcode
    )
    (line,) = captured.json_lines
    message = json.loads(line)["message"]
    assert "[phone]" in message and "[email]" in message and "[postcode]" in message, message
    assert found_in([*captured.json_lines, *captured.text_lines], bird.spellings()) == []
