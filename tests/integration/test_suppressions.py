"""The suppression list: complaints survive imports, a person's own re-grant lifts, nothing in plaintext,
and no free text: a note is accepted, discarded and stored nowhere; a lift gives a code."""

from __future__ import annotations

import io
import uuid
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.services import exports
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_choices import record
from tests.integration.test_registrations import grant, register
from tests.support.log_sweep import CANARIES


async def suppress(api: Api, to: Any, channel: str = "email", reason: str = "complaint", **more: Any) -> Any:
    body = {"to": to, "channel": channel, "reason": reason, **more}
    response = await api.post("/v1/suppressions", body, scope="staff")
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_complaint_survives_an_import_and_is_lifted_by_the_persons_own_grant(api: Api) -> None:
    email = fresh_email()
    entry = await suppress(api, email.upper(), reason="complaint", note="spam report from provider")
    assert (entry["ignored"], entry["note"]) == (["note"], None)
    assert (await api.check("email", email))["reason"] == "suppressed"

    # The address comes back through an import that says they agreed: still suppressed.
    imported = await api.post(
        "/v1/registrations",
        {
            "person": {"contacts": [{"kind": "email", "value": email}]},
            "choices": [grant("email")],
            "source": "import",
        },
        scope="forms",
    )
    assert imported.status_code == 201, imported.text
    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    assert answer["evidence"]["suppression_reason"] == "complaint"

    # The person themselves ticks the box on the web form, shown the current wording: lifted.
    person = imported.json()["person_id"]
    await record(api, person, [grant("email")], source="web_form")
    assert (await api.check("email", email))["reason"] == "consent_granted"

    found = (await api.get("/v1/suppressions/lookup", scope="checks", to=email, channel="email")).json()[
        "items"
    ]
    lifted = next(e for e in found if e["id"] == entry["id"])
    assert lifted["lifted_at"] is not None
    assert lifted["lift_reason"] == "regranted"


async def test_a_hard_bounce_is_not_lifted_by_a_grant_but_by_staff(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email))["person_id"]
    entry = await suppress(api, email, reason="hard_bounce")
    await record(api, person, [grant("email")])
    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "contact_invalid")
    admin = await api.check("email", email, purpose="administrative")
    assert (admin["allowed"], admin["reason"]) == (False, "contact_invalid")

    # A lift re-opens contact, so it is held to its paperwork: a code, never the words of a call.
    typed = await api.delete(f"/v1/suppressions/{entry['id']}", {"reason": "Mrs Jones rang: it works"})
    assert typed.status_code == 422 and typed.json()["errors"][0]["field"] == "reason"
    assert (await api.check("email", email))["reason"] == "contact_invalid"

    lifted = await api.delete(f"/v1/suppressions/{entry['id']}", {"reason": "confirmed_working"})
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["lift_reason"] == "confirmed_working"
    assert (await api.check("email", email))["allowed"] is True
    again = await api.delete(f"/v1/suppressions/{entry['id']}", {"reason": "added_in_error"})
    assert again.status_code == 409


async def test_scope_all_blocks_administrative_contact_too(api: Api) -> None:
    email = fresh_email()
    await suppress(api, email, channel="all", scope="all", reason="staff_request")
    admin = await api.check("email", email, purpose="administrative")
    assert (admin["allowed"], admin["reason"]) == (False, "suppressed")


async def test_entries_and_answers_hold_no_plaintext_contact_details(api: Api, database: AsyncEngine) -> None:
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    await record(api, person, [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}])
    await suppress(api, email, reason="complaint")

    local_part = email.split("@")[0]
    listing = await api.get("/v1/suppressions", scope="checks", channel="email")
    lookup = await api.get("/v1/suppressions/lookup", scope="checks", to=email, channel="email")
    check = await api.post(
        "/v1/checks", {"purpose": "marketing", "channel": "email", "to": email}, scope="checks"
    )
    for response in (listing, lookup, check):
        assert response.status_code == 200
        assert local_part not in response.text
    assert len(lookup.json()["items"]) == 2

    async with database.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM suppressions"))).all()
    assert rows
    assert not [row for row in rows if local_part in " ".join(str(v) for v in row)]


async def test_the_list_pages_with_a_cursor(api: Api) -> None:
    for _ in range(3):
        await suppress(api, fresh_email(), reason="unsubscribed")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"reason": "unsubscribed", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/suppressions", scope="checks", **params)).json()
        seen.extend(e["id"] for e in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3


async def test_a_repeated_suppression_with_the_same_key_is_recorded_once(api: Api) -> None:
    email = fresh_email()
    body = {"to": email, "channel": "email", "reason": "staff_request", "note": "asked at the drop-in"}
    key = {"Idempotency-Key": f"staff-{email}"}
    first = await api.post("/v1/suppressions", body, scope="staff", **key)
    again = await api.post("/v1/suppressions", body, scope="staff", **key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["ignored"] == ["note"]
    found = (await api.get("/v1/suppressions/lookup", scope="checks", to=email, channel="email")).json()[
        "items"
    ]
    assert len(found) == 1


async def test_a_note_sent_is_accepted_discarded_and_stored_nowhere(api: Api, database: AsyncEngine) -> None:
    """COMPLIANCE row 15: the suppression list keeps codes alone. A caller still sending ``note`` has
    the opt-out recorded (it is never refused for its paperwork) and is told the note was not kept;
    the text is in no row of any table, no answer, no export, and (swept at the end of the run) no log."""
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    token = uuid.uuid4().hex
    note = f"Mrs {token} of 12 Elm Road rang: stop the emails"
    CANARIES.add(token)
    body = {"to": email, "channel": "email", "reason": "staff_request", "how": "phone_call", "note": note}
    key = {"Idempotency-Key": f"note-{uuid.uuid4()}"}

    first = await api.post("/v1/suppressions", body, scope="staff", **key)
    assert first.status_code == 201, first.text
    added = first.json()
    assert (added["ignored"], added["note"], added["how"], added["reason"]) == (
        ["note"],
        None,
        "phone_call",
        "staff_request",
    )
    replayed = await api.post("/v1/suppressions", body, scope="staff", **key)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == added
    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    # Without a note, nothing is named as ignored.
    plain = await suppress(api, fresh_email(), reason="complaint", how="letter")
    assert (plain["ignored"], plain["how"]) == ([], "letter")

    csv_export = io.StringIO()
    await exports.export_suppressions(api.context, csv_export)
    shown = [
        await api.get("/v1/suppressions/lookup", scope="checks", to=email, channel="email"),
        await api.get("/v1/suppressions", scope="staff", reason="staff_request"),
        await api.get(f"/v1/people/{person}/export", scope="admin"),
        await api.get(f"/v1/people/{person}/export", scope="admin", format="text"),
    ]
    assert all(response.status_code == 200 for response in shown)
    [entry] = shown[0].json()["items"]
    assert (entry["id"], entry["how"], entry["note"]) == (added["id"], "phone_call", None)
    held = shown[2].json()["suppressions"]
    assert [(e["reason"], e["how"]) for e in held] == [("staff_request", "phone_call")]
    for where in [first.text, replayed.text, *(r.text for r in shown), csv_export.getvalue()]:
        assert token not in where

    async with database.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        holding = []
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608
            if any(token in str(value) for row in rows for value in row):
                holding.append(table)
    assert "idempotency_keys" in tables and "outbox" in tables
    assert holding == []
