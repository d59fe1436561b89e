"""One call shows everything that proves a choice was made (LEGAL #1), including the basis as it stood."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Api, fresh_email
from tests.integration.test_choices import record
from tests.integration.test_registrations import register

WORDING = "May we post you our newsletter? Tick the box if you would like it: [ ]"


async def _purpose_with_wording(api: Api) -> tuple[str, dict[str, object]]:
    code = f"newsletter_{secrets.token_hex(4)}"
    made = await api.post(
        "/v1/purposes",
        {"code": code, "category": "marketing", "bases": {"post": "consent", "email": "consent"}},
        scope="admin",
    )
    assert made.status_code == 201, made.text
    wording = await api.post(
        "/v1/notices", {"purpose": code, "text": WORDING, "language": "en"}, scope="admin"
    )
    assert wording.status_code == 201, wording.text
    notice: dict[str, object] = wording.json()
    return code, notice


async def test_a_grant_taken_on_the_phone_shows_its_full_evidence_and_the_basis_as_it_stood(
    api: Api, database: AsyncEngine
) -> None:
    code, notice = await _purpose_with_wording(api)
    person = (await register(api, fresh_email()))["person_id"]
    receipt = await record(
        api,
        person,
        [
            {
                "purpose": code,
                "channel": "post",
                "decision": "granted",
                "affirmative_action": "said_yes",
                "pre_ticked": False,
                "notice": {"purpose": code, "version": 1},
            }
        ],
        source="phone_call",
        effective_at="2026-12-01T10:15:00Z",
        evidence={
            "staff_member": "Priya Shah",
            "form_id": "call-script-3",
            "note": "Keyed in from the call log",
        },
    )
    event_id = receipt["receipt"]["events"][0]["id"]

    # The catalogue is later changed under the API (purposes cannot be edited through it): the post
    # channel now rests on legitimate interests. The grant was given as consent, and must say so.
    async with database.begin() as connection:
        await connection.execute(
            text("UPDATE purposes SET bases = :bases WHERE code = :code"),
            {"bases": '{"post": "legitimate_interests", "email": "consent"}', "code": code},
        )
    purposes = (await api.get("/v1/purposes")).json()["items"]
    assert next(p for p in purposes if p["code"] == code)["bases"]["post"] == "legitimate_interests"

    for scope in ("staff", "admin"):
        response = await api.get(f"/v1/people/{person}/events/{event_id}", scope=scope)
        assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["basis"] == "consent"
    assert (shown["id"], shown["person_id"], shown["purpose"], shown["channel"], shown["decision"]) == (
        event_id,
        person,
        code,
        "post",
        "granted",
    )
    assert shown["effective_at"] == "2026-12-01T10:15:00Z"
    assert shown["recorded_at"].endswith("Z")
    assert (shown["source"], shown["staff_member"], shown["form_id"]) == (
        "phone_call",
        "Priya Shah",
        "call-script-3",
    )
    assert shown["actor"]
    assert shown["notice"]["version"] == 1 and shown["notice"]["language"] == "en"
    assert shown["notice"]["kind"] == "consent_request"
    assert shown["notice"]["sha256"] == hashlib.sha256(WORDING.encode()).hexdigest() == notice["sha256"]
    assert (shown["evidence_complete"], shown["evidence_gaps"]) == (True, [])
    assert (shown["affirmative_action"], shown["pre_ticked"]) == ("said_yes", False)
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    assert (shown["hash"], shown["prev_hash"]) == (history[-1]["hash"], history[-1]["prev_hash"])
    assert len(shown["evidence_hash"]) == 64


async def test_an_unknown_event_or_someone_elses_is_not_found(api: Api) -> None:
    person = (await register(api, fresh_email()))["person_id"]
    other = (await register(api, fresh_email()))["person_id"]
    theirs = (
        await record(api, other, [{"purpose": "marketing", "channel": "post", "decision": "withdrawn"}])
    )["receipt"]["events"][0]["id"]

    unknown = await api.get(f"/v1/people/{person}/events/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert (await api.get(f"/v1/people/{person}/events/{theirs}")).status_code == 404
    assert (await api.get(f"/v1/people/{uuid.uuid4()}/events/{theirs}")).status_code == 404
    assert (await api.get(f"/v1/people/{other}/events/{theirs}", scope="checks")).status_code == 403
