"""Bad input gets a clear problem+json, field by field, and changes nothing; keys and scopes are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Api, count, fresh_email
from tests.integration.test_registrations import grant

TABLES = (
    "people",
    "contact_points",
    "consent_events",
    "current_consents",
    "suppressions",
    "idempotency_keys",
)


async def snapshot(database: AsyncEngine) -> dict[str, int]:
    return {table: await count(database, table) for table in TABLES}


def registration(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person": {"contacts": [{"kind": "email", "value": fresh_email()}]},
        "choices": [grant("email")],
        "source": "web_form",
    }
    body.update(changes)
    return body


def email_grant_citing(notice_purpose: str, version: int) -> dict[str, Any]:
    """A marketing grant by email that names the notice version given."""
    return {
        "purpose": "marketing",
        "channel": "email",
        "decision": "granted",
        "affirmative_action": "ticked_box",
        "pre_ticked": False,
        "notice": {"purpose": notice_purpose, "version": version},
    }


BAD_REGISTRATIONS = {
    "invalid email": (
        registration(person={"contacts": [{"kind": "email", "value": "jo at example"}]}),
        "person.contacts[0].value",
    ),
    "grant without a notice": (
        registration(choices=[{"purpose": "marketing", "channel": "email", "decision": "granted"}]),
        "choices[0].notice",
    ),
    # UK GDPR Art 4(11), Recital 32: the person's own act, and not a box ticked for them (row 3).
    "grant without its affirmative action": (
        registration(choices=[{**grant("email"), "affirmative_action": None}]),
        "choices[0].affirmative_action",
    ),
    "an act no source has": (
        registration(choices=[{**grant("email"), "affirmative_action": "nodded"}]),
        "choices[0].affirmative_action",
    ),
    "pre-ticked grant": (
        registration(choices=[{**grant("email"), "pre_ticked": True}]),
        "choices[0].pre_ticked",
    ),
    "unknown notice version": (
        registration(choices=[email_grant_citing("marketing", 999)]),
        "choices[0].notice",
    ),
    "another purpose's wording": (
        registration(choices=[email_grant_citing("testimonial", 1)]),
        "choices[0].notice",
    ),
    # A withdrawal naming these is recorded, widened (test_paperwork.py); a grant is refused.
    "unknown purpose": (
        registration(choices=[grant("email", purpose="raffle")]),
        "choices[0].purpose",
    ),
    "unknown channel": (
        registration(choices=[{"purpose": "marketing", "channel": "pigeon", "decision": "withdrawn"}]),
        "choices[0].channel",
    ),
    "channel the purpose does not use": (
        registration(choices=[grant("email", purpose="testimonial")]),
        "choices[0].channel",
    ),
    "unknown top-level field": (registration(newsletter=True), "newsletter"),
    "unknown nested field": (
        registration(person={"contacts": [{"kind": "email", "value": fresh_email(), "primary": True}]}),
        "person.contacts[0].primary",
    ),
    "unknown source": (registration(source="carrier_pigeon"), "source"),
    "time without a zone": (registration(effective_at="2026-01-01T10:00:00"), "effective_at"),
    # In year 0 once in UTC, so nothing could store it: a schemathesis run found it answered 500.
    "time before the first UTC instant": (
        registration(effective_at="0001-01-01T00:01:01+01:00"),
        "effective_at",
    ),
    "missing decision": (
        registration(choices=[{"purpose": "marketing", "channel": "email"}]),
        "choices[0].decision",
    ),
    # Valid JSON that PostgreSQL cannot store and SQLite would: refused alike on both.
    "NUL in a note": (registration(evidence={"note": "rang back\u0000"}), "evidence.note"),
    "NUL in a reference": (
        registration(person={"reference": "CASE\u0000-1", "contacts": []}),
        "person.reference",
    ),
}


@pytest.mark.parametrize("body, field", BAD_REGISTRATIONS.values(), ids=BAD_REGISTRATIONS.keys())
async def test_a_bad_registration_is_refused_field_by_field_and_writes_nothing(
    api: Api, database: AsyncEngine, body: dict[str, Any], field: str
) -> None:
    before = await snapshot(database)
    response = await api.post("/v1/registrations", body, scope="forms", **{"Idempotency-Key": fresh_email()})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation") and problem["title"]
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await snapshot(database) == before


async def test_every_invalid_contact_is_reported_at_once(api: Api) -> None:
    body = registration(
        person={
            "contacts": [
                {"kind": "email", "value": "nope"},
                {"kind": "phone", "value": "12"},
                {"kind": "postal", "value": {"lines": ["1 Road"], "postcode": "NOT A CODE"}},
            ]
        }
    )
    problem = (await api.post("/v1/registrations", body, scope="forms")).json()
    assert [e["field"] for e in problem["errors"]] == [f"person.contacts[{i}].value" for i in range(3)]


async def test_a_malformed_body_is_a_problem_not_a_crash(api: Api) -> None:
    response = await api.client.post(
        "/v1/checks",
        content=b'{"purpose": "marketing", "chan',
        headers=api.headers("checks", **{"content-type": "application/json"}),
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_bulk_check_over_the_limit_is_refused(api: Api) -> None:
    body = {"purpose": "marketing", "channel": "email", "to": ["a@example.org"] * 10_001}
    response = await api.post("/v1/checks/bulk", body, scope="checks")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "to"


async def test_bulk_answers_come_in_input_order(api: Api) -> None:
    granted, unknown = fresh_email(), fresh_email()
    await api.post(
        "/v1/registrations",
        {
            "person": {"contacts": [{"kind": "email", "value": granted}]},
            "choices": [grant("email")],
            "source": "web_form",
        },
        scope="forms",
    )
    body = {
        "purpose": "marketing",
        "channel": "email",
        "to": [unknown, "not-an-address", granted.upper(), unknown],
    }
    answer = (await api.post("/v1/checks/bulk", body, scope="checks")).json()
    assert answer["degraded"] is False
    results = answer["results"]
    assert [(r["to"], r["allowed"], r["reason"]) for r in results] == [
        (unknown, False, "no_consent"),
        ("not-an-address", False, "contact_invalid"),
        (granted.upper(), True, "consent_granted"),
        (unknown, False, "no_consent"),
    ]


async def test_the_same_idempotency_key_records_once(api: Api, database: AsyncEngine) -> None:
    body = registration()
    key = {"Idempotency-Key": f"form-{fresh_email()}"}
    first = await api.post("/v1/registrations", body, scope="forms", **key)
    events = await count(database, "consent_events")
    again = await api.post("/v1/registrations", body, scope="forms", **key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert await count(database, "consent_events") == events

    other = await api.post("/v1/registrations", registration(), scope="forms", **key)
    assert other.status_code == 409
    assert other.json()["type"].endswith("/idempotency-conflict")
    assert await count(database, "consent_events") == events


ROUTES = [
    ("POST", "/v1/registrations", "forms", "checks"),
    ("POST", "/v1/checks", "checks", "forms"),
    ("POST", "/v1/checks/bulk", "checks", "staff"),
    ("GET", "/v1/people?reference=x", "staff", "forms"),
    ("POST", "/v1/suppressions", "staff", "checks"),
    ("GET", "/v1/suppressions", "checks", "forms"),
    ("POST", "/v1/purposes", "admin", "staff"),
    ("POST", "/v1/notices", "admin", "forms"),
    ("POST", "/v1/keys", "admin", "staff"),
]


@pytest.mark.parametrize("method, path, allowed, refused", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_no_key_is_401_and_a_key_without_the_scope_is_403(
    api: Api, method: str, path: str, allowed: str, refused: str
) -> None:
    body: dict[str, object] | None = {} if method == "POST" else None
    missing = await api.client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong = await api.client.request(method, path, json=body, headers={"Authorization": "Bearer csk_forged"})
    assert wrong.status_code == 401
    forbidden = await api.client.request(method, path, json=body, headers=api.headers(refused))
    assert forbidden.status_code == 403, forbidden.text
    permitted = await api.client.request(method, path, json=body, headers=api.headers(allowed))
    assert permitted.status_code not in (401, 403), permitted.text


async def test_a_key_can_only_make_keys_with_scopes_it_holds(api: Api) -> None:
    made = await api.post("/v1/keys", {"name": "mailer", "scopes": ["checks"]}, scope="all")
    assert made.status_code == 201
    new_key = made.json()["key"]
    assert len(new_key) >= 40
    usable = await api.client.post(
        "/v1/checks",
        json={"purpose": "marketing", "channel": "email", "to": fresh_email()},
        headers={"Authorization": f"Bearer {new_key}"},
    )
    assert usable.status_code == 200
    beyond = await api.post("/v1/keys", {"name": "sneaky", "scopes": ["admin", "staff"]}, scope="admin")
    assert beyond.status_code == 422
    assert beyond.json()["errors"][0]["field"] == "scopes"


async def test_health_needs_no_key(api: Api) -> None:
    assert (await api.client.get("/health/live")).json() == {"status": "ok"}
    assert (await api.client.get("/health/ready")).status_code == 200


async def test_options_and_head_never_answer_a_server_error(api: Api) -> None:
    options = await api.client.options("/v1/suppressions")
    assert options.status_code in (200, 204) and "POST" in options.headers.get("allow", "")
    head = await api.client.head("/v1/suppressions")
    assert head.status_code in (401, 405)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/notices", {"GET", "POST", "OPTIONS"}),
        ("/v1/suppressions", {"GET", "POST", "OPTIONS"}),
        ("/v1/people/4b1a892d-78d4-4453-867d-138be6611601", {"GET", "PATCH", "OPTIONS"}),
    ],
)
async def test_options_lists_every_method_of_a_path(api: Api, path: str, methods: set[str]) -> None:
    options = await api.client.options(path)
    assert {m.strip() for m in options.headers["allow"].split(",")} == methods


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # A number is not a date-time, though a lenient decoder would read it as seconds since 1970.
        ("/v1/notices", {"purpose": "marketing", "text": "News", "published_at": 0}, "published_at"),
        ("/v1/checks", {"purpose": "marketing", "channel": "email", "to": "a@b.org", "at": 1.5}, "at"),
        # A numeric string is not an integer.
        (
            "/v1/registrations",
            {
                "person": {"contacts": []},
                "choices": [{**grant("email"), "notice": {"purpose": "marketing", "version": "1"}}],
                "source": "web_form",
            },
            "choices[0].notice.version",
        ),
    ],
)
async def test_values_of_the_wrong_type_are_refused_not_converted(
    api: Api, database: AsyncEngine, path: str, body: dict[str, Any], field: str
) -> None:
    before = await snapshot(database)
    response = await api.post(path, body, scope="all")
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await snapshot(database) == before


async def test_a_point_in_time_must_be_written_as_a_date_time(api: Api) -> None:
    person = (await api.post("/v1/people", {}, scope="staff")).json()["id"]
    refused = await api.get(f"/v1/people/{person}/consents", at="0.5")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "query.at"
    taken = await api.get(f"/v1/people/{person}/consents", at="2026-01-31T12:00:00Z")
    assert taken.status_code == 200, taken.text


@pytest.mark.parametrize(
    "path, body, field",
    [
        (
            "/v1/people/{person}/consents",
            {
                "choices": [{"purpose": "marketing", "decision": "withdrawn"}],
                "source": "email",
                "effective_at": "0001-01-01T00:01:01+01:00",
            },
            "effective_at",
        ),
        (
            "/v1/people/{person}/objection",
            {"source": "email", "effective_at": "0001-01-01T00:30:00+00:45"},
            "effective_at",
        ),
        (
            "/v1/checks",
            {
                "to": "jo@example.org",
                "purpose": "marketing",
                "channel": "email",
                "at": "9999-12-31T23:00:00-05:00",
            },
            "at",
        ),
    ],
)
async def test_a_time_no_utc_instant_names_is_refused_by_field(
    api: Api, database: AsyncEngine, path: str, body: dict[str, Any], field: str
) -> None:
    person = (await api.post("/v1/people", {}, scope="staff")).json()["id"]
    before = await snapshot(database)
    response = await api.post(path.format(person=person), body, scope="all")
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await snapshot(database) == before
    # The same instant written at UTC's own edge is a time like any other.
    edge = {
        **body,
        field: "0001-01-01T00:00:00Z" if body[field].startswith("0001") else "9999-12-31T23:59:59Z",
    }
    assert (await api.post(path.format(person=person), edge, scope="all")).status_code in (200, 201)


async def test_a_point_in_time_past_the_last_utc_instant_is_refused(api: Api) -> None:
    person = (await api.post("/v1/people", {}, scope="staff")).json()["id"]
    refused = await api.get(f"/v1/people/{person}/consents", at="9999-12-31T23:30:00-01:00")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "query.at"


async def test_an_idempotency_key_longer_than_can_be_stored_is_refused_by_name(
    api: Api, database: AsyncEngine
) -> None:
    before = await snapshot(database)
    response = await api.post(
        "/v1/registrations", registration(), scope="forms", **{"Idempotency-Key": "k" * 201}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["header.Idempotency-Key"]
    assert await snapshot(database) == before


async def test_a_key_with_the_longest_name_can_still_write(api: Api) -> None:
    """The actor recorded with each choice is the key's name and id, cut to the column's size."""
    made = await api.post("/v1/keys", {"name": "n" * 200, "scopes": ["forms"]}, scope="all")
    assert made.status_code == 201, made.text
    response = await api.client.post(
        "/v1/registrations", json=registration(), headers={"Authorization": f"Bearer {made.json()['key']}"}
    )
    assert response.status_code == 201, response.text
