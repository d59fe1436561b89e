"""Staff provenance, safeguarding restrictions, subject access, receipts, erasure, retention, audit."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent_service.bootstrap import build_context
from consent_service.config import Settings
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.ledger import Decision, Evidence, Source
from consent_service.domain.notices import RIGHT_TO_OBJECT
from consent_service.services import audit, choices, retention
from consent_service.services.catalogue import seed
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.context import Context
from tests.integration.conftest import Api, Fresh, fresh_email, fresh_mobile, tamper_with_events, ticked_grant
from tests.integration.test_choices import record
from tests.integration.test_registrations import grant

#: A grant ticked on a form, as the people in these tests gave theirs.

POSTAL = {"lines": ["1 Safe Street"], "postcode": "LS1 4AP"}


class Postal(TypedDict):
    """A postal address as the API takes it."""

    lines: list[str]
    postcode: str


async def family(
    api: Api, note: str = "signed up at the toddler group", **person: object
) -> tuple[str, str, Postal, str]:
    email, mobile = fresh_email(), fresh_mobile()
    postal: Postal = {"lines": [f"{fresh_email()[:18]} Road"], "postcode": "LS1 4AP"}
    body = {
        "person": {
            "contacts": [
                {"kind": "email", "value": email},
                {"kind": "phone", "value": mobile},
                {"kind": "postal", "value": postal},
            ],
            **person,
        },
        "choices": [grant("email"), grant("sms")],
        "source": "web_form",
        "evidence": {
            "ip": "192.0.2.44",
            "user_agent": "Mozilla/5.0 test",
            "note": "signed up at the toddler group",
        },
    }
    response = await api.post("/v1/registrations", body, scope="forms")
    assert response.status_code == 201, response.text
    return email, mobile, postal, response.json()["person_id"]


async def test_a_grant_by_phone_must_name_the_staff_member_and_backdating_needs_a_reason(api: Api) -> None:
    # Only a grant: an opt-out lacking the same paperwork is recorded with its gaps (test_paperwork.py).
    _, _, _, person = await family(api)
    granting = [grant("email")]
    nameless = await api.post(f"/v1/people/{person}/consents", {"choices": granting, "source": "phone_call"})
    assert nameless.status_code == 422
    assert nameless.json()["errors"][0]["field"] == "evidence.staff_member"

    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    body = {
        "choices": granting,
        "source": "letter",
        "effective_at": old,
        "evidence": {"staff_member": "Sam Okafor"},
    }
    unexplained = await api.post(f"/v1/people/{person}/consents", body)
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"][0]["field"] == "evidence.note"

    body["evidence"] = {"staff_member": "Sam Okafor", "note": "letter dated 3 days ago, opened today"}
    assert (await api.post(f"/v1/people/{person}/consents", body)).status_code == 201


async def test_a_restriction_on_post_stops_administrative_post_but_not_email(api: Api) -> None:
    email, _, postal, person = await family(api)
    made = await api.post(
        f"/v1/people/{person}/restrictions",
        {"channel": "post", "reason": "Safeguarding: address known to ex-partner"},
    )
    assert made.status_code == 201, made.text
    restriction = made.json()

    post = await api.check("post", postal, purpose="administrative")
    assert (post["allowed"], post["reason"]) == (False, "contact_restricted")
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True
    assert (await api.check("email", email))["allowed"] is True
    by_person = await api.check("post", purpose="administrative", person_id=person)
    assert by_person["reason"] == "contact_restricted"

    lifted = await api.delete(
        f"/v1/people/{person}/restrictions/{restriction['id']}",
        {"reason": "Risk reviewed by the safeguarding lead"},
    )
    assert (
        lifted.status_code == 200 and lifted.json()["lift_reason"] == "Risk reviewed by the safeguarding lead"
    )
    assert (await api.check("post", postal, purpose="administrative"))["allowed"] is True
    listed = (await api.get(f"/v1/people/{person}/restrictions")).json()["items"]
    assert [r["lifted_at"] is not None for r in listed] == [True]


async def test_a_restriction_on_one_address_leaves_the_others(api: Api) -> None:
    email, mobile, _, person = await family(api)
    made = await api.post(
        f"/v1/people/{person}/restrictions", {"channel": "all", "to": email, "reason": "Shared inbox"}
    )
    assert made.status_code == 201 and made.json()["contact_id"] is not None
    assert (await api.check("email", email, purpose="administrative"))["reason"] == "contact_restricted"
    assert (await api.check("sms", mobile, purpose="administrative"))["allowed"] is True
    stranger = await api.post(
        f"/v1/people/{person}/restrictions", {"channel": "email", "to": fresh_email(), "reason": "x"}
    )
    assert stranger.status_code == 422


async def test_the_export_holds_everything_on_the_person_and_nothing_on_anyone_else(api: Api) -> None:
    household = f"household-{fresh_email()}"
    email, mobile, _, person = await family(api, household=household, display_name="Alex Example")
    other_email, _, _, other = await family(api, household=household, display_name="Robin Example")
    await record(api, other, [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}])
    await record(api, person, [{"purpose": "marketing", "channel": "sms", "decision": "withdrawn"}])
    await api.post(f"/v1/people/{person}/restrictions", {"channel": "phone", "reason": "Do not call"})

    response = await api.get(f"/v1/people/{person}/export", scope="admin")
    assert response.status_code == 200
    held = response.json()
    assert held["person"]["display_name"] == "Alex Example"
    assert {c["value"] for c in held["person"]["contacts"]} >= {email, "+44" + mobile.replace(" ", "")[1:]}
    assert len(held["person"]["contacts"]) == 3
    assert [e["decision"] for e in held["events"]] == ["granted", "granted", "withdrawn"]
    assert held["events"][0]["evidence"]["ip"] == "192.0.2.44"
    assert held["household_members"] == [other]
    assert [r["reason"] for r in held["restrictions"]] == ["Do not call"]
    assert {(x["channel"], x["reason"]) for x in held["suppressions"]} == {("sms", "withdrawn")}
    assert (
        other_email not in response.text and "Robin" not in response.text and other not in str(held["events"])
    )

    readable = await api.get(f"/v1/people/{person}/export", scope="admin", format="text")
    assert readable.headers["content-type"].startswith("text/plain")
    assert "Everything we hold about you" in readable.text and email in readable.text
    assert other_email not in readable.text
    assert (await api.get(f"/v1/people/{person}/export", scope="staff")).status_code == 403


async def test_a_recorded_choice_is_sent_as_a_kantara_receipt(api: Api) -> None:
    _, _, _, person = await family(api)
    events = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    response = await api.get(f"/v1/people/{person}/receipts/{events[0]['id']}", scope="forms")
    assert response.status_code == 200
    receipt = response.json()
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == events[0]["id"]
    assert receipt["collectionMethod"] == "web_form"
    assert receipt["piiPrincipalId"] == person
    service = receipt["services"][0]
    assert service["service"] == "marketing" and service["purposes"][0]["consentType"] == "EXPLICIT"
    assert (
        "withdrawn" in service["purposes"][0]["termination"].lower()
        or "until" in service["purposes"][0]["termination"].lower()
    )
    assert receipt["notice"]["version"] == 1


async def test_a_marketing_receipt_states_the_right_to_object(api: Api) -> None:
    """Art 21(4), in the receipt a family is sent for each marketing consent they gave."""
    _, _, _, person = await family(api)
    events = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    assert [e["decision"] for e in events] == ["granted", "granted"]
    for event in events:
        receipt = (await api.get(f"/v1/people/{person}/receipts/{event['id']}", scope="forms")).json()
        assert receipt["rightToObject"] == RIGHT_TO_OBJECT
        assert "object to direct marketing" in receipt["rightToObject"]


async def dump(engine: AsyncEngine) -> str:
    """Every row of every table, as text: what a database dump would show."""
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        rows: list[str] = []
        for table in tables:
            result = await connection.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
            rows.extend(" | ".join(str(v) for v in row) for row in result)
    return "\n".join(rows)


async def test_erasure_leaves_no_contact_detail_and_keeps_the_tombstones(
    api: Api, database: AsyncEngine
) -> None:
    note = f"told us at the {fresh_email()} group"
    name = f"Jordan {fresh_email()[7:19]}"
    email, mobile, postal, person = await family(
        api, note, reference=f"case-{fresh_email()}", display_name=name
    )
    held = await dump(database)  # sealed before erasure too (LEGAL #31); the dump does reach the person
    assert person in held and email not in held

    erased = await api.post(
        f"/v1/people/{person}/erasure", {"reason": "Subject asked to be forgotten"}, scope="admin"
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["suppression_tombstones"] == 3 and erased.json()["events_kept"] == 2

    assert (await api.get("/v1/people", email=email)).json()["items"] == []
    assert (await api.get(f"/v1/people/{person}")).status_code == 404
    everything = await dump(database)
    for secret in (
        email,
        email.split("@")[0],
        mobile.replace(" ", "")[1:],
        name,
        note,
        postal["lines"][0].lower(),
    ):
        assert secret not in everything, secret
    if api.settings.database.url.startswith("postgresql") and shutil.which("pg_dump"):
        url = api.settings.database.url.replace("+asyncpg", "")
        pg_dump = subprocess.run(["pg_dump", "--data-only", url], capture_output=True, text=True, check=True)  # noqa: S603, S607
        assert email.split("@")[0] not in pg_dump.stdout

    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "person_erased")
    reimported = await api.post(
        "/v1/registrations",
        {
            "person": {"contacts": [{"kind": "email", "value": email}]},
            "choices": [grant("email")],
            "source": "import",
        },
        scope="forms",
    )
    assert reimported.status_code == 201
    assert (await api.check("email", email))["allowed"] is False
    assert (await api.check("post", postal))["allowed"] is False

    report = await audit.verify(api.context)
    assert report.intact, report


async def _register(ctx: Context, email: str, at: datetime | None = None) -> str:
    done = await choices.register(
        ctx,
        choices.Register(
            PersonInput(contacts=[ContactInput(ContactKind.EMAIL, email)]),
            ChoicesInput(
                [ticked_grant("marketing", Channel.EMAIL)],
                Source.WEB_FORM,
                "test",
                effective_at=at,
                evidence=Evidence(note="kept"),
            ),
        ),
    )
    return done.person_id


async def test_tampering_with_one_stored_event_is_named_by_audit_verify(fresh: Fresh) -> None:
    ids = [await _register(fresh.context, fresh_email()) for _ in range(3)]
    assert (await audit.verify(fresh.context)).intact
    engine = create_async_engine(fresh.url)
    async with engine.begin() as connection:
        found = await connection.execute(
            text("SELECT id FROM consent_events WHERE person_id = :p"), {"p": ids[1]}
        )
        target = found.scalar_one()
    await engine.dispose()
    # Refused by the database; done anyway with the owner's rights, the chain still names it.
    await tamper_with_events(
        fresh.url, "UPDATE consent_events SET decision = 'withdrawn' WHERE id = :id", id=target
    )
    report = await audit.verify(fresh.context)
    assert report.broken is not None and report.broken.id == target


async def test_retention_dry_run_changes_nothing_and_the_run_erases_exactly_the_selection(
    fresh: Fresh,
) -> None:
    ctx = fresh.context
    idle_email, active_email = fresh_email(), fresh_email()
    idle, active = await _register(ctx, idle_email), await _register(ctx, active_email)
    later = datetime.now(UTC) + timedelta(days=3 * 365)

    class Later:
        def now(self) -> datetime:
            return later

    future = replace(ctx, clock=Later())
    await choices.record_choices(
        future,
        choices.RecordChoices(
            active,
            ChoicesInput([ChoiceInput("marketing", Channel.SMS, Decision.WITHDRAWN)], Source.WEB_FORM, "t"),
        ),
    )

    planned = await retention.run(future, inactive_years=2, dry_run=True)
    assert planned.selected == (idle,)
    async with ctx.store.reading() as uow:
        assert (await uow.people.get(idle)).erased_at is None  # type: ignore[union-attr]

    done = await retention.run(future, inactive_years=2, dry_run=False)
    assert done.selected == (idle,)
    async with ctx.store.reading() as uow:
        assert (await uow.people.get(idle)).erased_at is not None  # type: ignore[union-attr]
        assert (await uow.people.get(active)).erased_at is None  # type: ignore[union-attr]
    assert (await audit.verify(ctx)).intact


CLI = str(Path(sys.executable).parent / "consent-service")


def embedded_with_people(data_dir: Path, people: int) -> dict[str, str]:
    """An embedded data dir, migrated, holding ``people`` registered people; the environment naming it."""
    env = {**os.environ, "CONSENT_DATA_DIR": str(data_dir)}
    env.pop("CONSENT_DATABASE_URL", None)
    subprocess.run([CLI, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603

    async def register() -> None:
        ctx = build_context(Settings.from_env({"CONSENT_DATA_DIR": str(data_dir)}))
        await seed(ctx.store, ctx.clock)
        await ctx.catalogue.reload()
        for _ in range(people):
            await _register(ctx, fresh_email())
        await ctx.store.dispose()

    asyncio.run(register())
    return env


def test_the_audit_command_names_the_tampered_event(tmp_path: Path) -> None:
    env, cli = embedded_with_people(tmp_path, 2), CLI
    ok = subprocess.run([cli, "audit", "verify"], env=env, capture_output=True, text=True)  # noqa: S603
    assert ok.returncode == 0 and "ok: 2 events" in ok.stdout

    tamper = "UPDATE consent_events SET effective_at = '2020-01-01 00:00:00' WHERE id = ?"
    with closing(sqlite3.connect(tmp_path / "consent.db")) as db:
        target = db.execute("SELECT id FROM consent_events WHERE seq = 2").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(tamper, (target,))
        # Whoever owns the file can drop the triggers; the chain is what catches them then.
        with db:
            db.execute("DROP TRIGGER consent_events_no_update")
            db.execute(tamper, (target,))
    broken = subprocess.run([cli, "audit", "verify"], env=env, capture_output=True, text=True)  # noqa: S603
    assert broken.returncode == 1 and target in broken.stdout
