"""Staff roles and the audit trail (issue 16), through the staff pages as a browser without JavaScript:
only a lead lifts a safeguarding restriction, erases, exports for a subject access request, manages
accounts and reads the audit trail; every sign-in, failed sign-in, sign-out and account change is on
the trail. And a family erased earlier who registers again is contacted as they asked."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.domain.errors import Conflict
from consent_service.domain.staff import Role
from consent_service.services import staff
from consent_service.services.staff import create_account
from tests.integration.conftest import Api, Fresh, command_line_environment, fresh_email
from tests.integration.test_keys import CLI
from tests.integration.test_registrations import grant
from tests.integration.test_staff_pages import (
    NO_MATCH,
    PASSWORD,
    Staff,
    csrf_of,
    family,
    sign_in,
    signed_in,
)

ONLY_A_LEAD = "Only a lead can do this"
_ONE_TIME = re.compile(r'id="one-time-password".*?<code>([^<]+)</code>', re.S)


@pytest.fixture
def browser(fresh_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return fresh_client


async def _account(api: Api, role: Role) -> Staff:
    username = f"{role.value}.{uuid.uuid4().hex[:10]}"
    display_name = f"Robin {role.value.capitalize()} {secrets.token_hex(2)}"
    await create_account(api.context, username, display_name, PASSWORD, role)
    return Staff(username, display_name)


@pytest.fixture
async def plain(api: Api) -> Staff:
    return await _account(api, Role.STAFF)


@pytest.fixture
async def lead(api: Api) -> Staff:
    return await _account(api, Role.LEAD)


async def _restricted_family(api: Api) -> tuple[str, str]:
    person = await family(api)
    added = await api.post(
        f"/v1/people/{person.person_id}/restrictions",
        {"channel": "all", "reason": "Safeguarding: risk at home"},
    )
    assert added.status_code == 201, added.text
    return person.person_id, added.json()["id"]


async def test_a_plain_staff_member_cannot_lift_a_restriction_erase_or_export(
    api: Api, browser: httpx.AsyncClient, plain: Staff
) -> None:
    person_id, restriction_id = await _restricted_family(api)
    await signed_in(browser, plain)
    page = await browser.get(f"/staff/people/{person_id}")
    assert page.status_code == 200
    lift_url = f"/staff/people/{person_id}/restrictions/{restriction_id}/lift"
    assert lift_url not in page.text and "Only a lead can lift a restriction" in page.text
    assert "Erase this person" not in page.text and "/export" not in page.text
    assert "Staff accounts" not in page.text and "Audit trail" not in page.text
    csrf = csrf_of(page)

    lifted = await browser.post(lift_url, data={"reason": "All fine now", "_csrf_token": csrf})
    assert lifted.status_code == 403 and ONLY_A_LEAD in lifted.text
    erased = await browser.post(
        f"/staff/people/{person_id}/erasure",
        data={"reason": "asked", "confirm": "erase", "_csrf_token": csrf},
    )
    assert erased.status_code == 403 and ONLY_A_LEAD in erased.text
    exported = await browser.get(f"/staff/people/{person_id}/export")
    assert exported.status_code == 403 and ONLY_A_LEAD in exported.text
    for path in ("/staff/accounts", "/staff/audit"):
        assert (await browser.get(path)).status_code == 403, path
    made = await browser.post(
        "/staff/accounts", data={"username": "sneaky", "name": "Sneaky", "role": "lead", "_csrf_token": csrf}
    )
    assert made.status_code == 403

    answer = await api.check("email", None, purpose="administrative", person_id=person_id)
    assert (answer["allowed"], answer["reason"]) == (False, "contact_restricted")
    assert (await api.get(f"/v1/people/{person_id}")).status_code == 200
    assert (await browser.get("/staff/accounts")).status_code == 403


async def test_a_role_change_holds_on_the_next_page_without_signing_in_again(
    api: Api, browser: httpx.AsyncClient, plain: Staff, lead: Staff
) -> None:
    person_id, restriction_id = await _restricted_family(api)
    await signed_in(browser, plain)
    lift_url = f"/staff/people/{person_id}/restrictions/{restriction_id}/lift"
    assert lift_url not in (await browser.get(f"/staff/people/{person_id}")).text

    await browser.post("/staff/sign-out", data={"_csrf_token": csrf_of(await browser.get("/staff"))})
    await signed_in(browser, lead)
    accounts = await browser.get("/staff/accounts")
    promoted = await browser.post(
        f"/staff/accounts/{plain.username}/role", data={"role": "lead", "_csrf_token": csrf_of(accounts)}
    )
    assert promoted.status_code == 200 and f"{plain.username} is now lead" in promoted.text

    await browser.post("/staff/sign-out", data={"_csrf_token": csrf_of(promoted)})
    await signed_in(browser, plain)
    page = await browser.get(f"/staff/people/{person_id}")
    assert lift_url in page.text
    lifted = await browser.post(lift_url, data={"reason": "Moved away safely", "_csrf_token": csrf_of(page)})
    assert lifted.status_code == 303
    answer = await api.check("email", None, purpose="administrative", person_id=person_id)
    assert answer["allowed"] is True


async def test_a_lead_makes_resets_and_disables_an_account(
    api: Api, browser: httpx.AsyncClient, lead: Staff
) -> None:
    await signed_in(browser, lead)
    accounts = await browser.get("/staff/accounts")
    assert accounts.status_code == 200 and lead.username in accounts.text
    username = f"new.{uuid.uuid4().hex[:8]}"
    made = await browser.post(
        "/staff/accounts",
        data={"username": username, "name": "Casey New", "role": "staff", "_csrf_token": csrf_of(accounts)},
    )
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    found = _ONE_TIME.search(made.text)
    assert found, "the new account's password is not shown"
    first_password = found.group(1)

    twice = await browser.post(
        "/staff/accounts",
        data={"username": username, "name": "Casey Again", "role": "staff", "_csrf_token": csrf_of(made)},
    )
    assert twice.status_code == 422 and "Nothing was changed" in twice.text
    blank = await browser.post(
        "/staff/accounts", data={"username": "", "name": "", "role": "boss", "_csrf_token": csrf_of(made)}
    )
    assert (
        blank.status_code == 422
        and "Choose a role." in blank.text
        and "Give a username of at most" in blank.text
    )

    reset = await browser.post(f"/staff/accounts/{username}/password", data={"_csrf_token": csrf_of(made)})
    assert reset.status_code == 200
    found = _ONE_TIME.search(reset.text)
    assert found
    second_password = found.group(1)
    assert second_password != first_password

    disabled = await browser.post(f"/staff/accounts/{username}/disable", data={"_csrf_token": csrf_of(reset)})
    assert disabled.status_code == 200 and f"{username} is disabled" in disabled.text
    await browser.post("/staff/sign-out", data={"_csrf_token": csrf_of(disabled)})

    assert NO_MATCH in (await sign_in(browser, username, second_password)).text
    assert NO_MATCH in (await sign_in(browser, username, first_password)).text


async def test_a_new_account_signs_in_with_the_password_shown_once(
    api: Api, browser: httpx.AsyncClient, lead: Staff
) -> None:
    await signed_in(browser, lead)
    accounts = await browser.get("/staff/accounts")
    username = f"new.{uuid.uuid4().hex[:8]}"
    made = await browser.post(
        "/staff/accounts",
        data={"username": username, "name": "Casey New", "role": "staff", "_csrf_token": csrf_of(accounts)},
    )
    found = _ONE_TIME.search(made.text)
    assert found
    assert found.group(1) not in (await browser.get("/staff/accounts")).text
    await browser.post("/staff/sign-out", data={"_csrf_token": csrf_of(made)})
    signed = await sign_in(browser, username, found.group(1))
    assert signed.status_code == 303 and signed.headers["location"] == "/staff"
    assert (await browser.get("/staff/accounts")).status_code == 403


async def test_the_audit_trail_holds_every_sign_in_failure_sign_out_and_change(
    api: Api, browser: httpx.AsyncClient, plain: Staff, lead: Staff, database: AsyncEngine
) -> None:
    typo = f"typo-{uuid.uuid4().hex[:8]}"
    wrong_password = f"not the password {uuid.uuid4().hex[:6]}"
    assert (await sign_in(browser, plain.username, wrong_password)).status_code == 401
    assert (await sign_in(browser, typo, wrong_password)).status_code == 401
    await signed_in(browser, plain)
    await browser.post("/staff/sign-out", data={"_csrf_token": csrf_of(await browser.get("/staff"))})
    await signed_in(browser, lead)
    accounts = await browser.get("/staff/accounts")
    await browser.post(
        f"/staff/accounts/{plain.username}/role", data={"role": "lead", "_csrf_token": csrf_of(accounts)}
    )

    trail = await browser.get("/staff/audit")
    assert trail.status_code == 200
    rows = re.findall(
        r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", trail.text
    )
    about_plain = [(what, by, detail) for what, subject, by, detail in rows if subject == plain.username]
    assert ("Role changed", f"staff:{lead.username}", "staff to lead") in about_plain
    assert ("Signed out", f"staff:{plain.username}", "") in about_plain
    assert ("Signed in", f"staff:{plain.username}", "") in about_plain
    assert ("Sign-in failed", "", "") in about_plain
    assert ("Sign-in failed", "no such account", "", "") in rows
    assert typo not in trail.text and wrong_password not in trail.text

    async with database.connect() as connection:
        stored = " ".join(str(row) for row in await connection.execute(text("SELECT * FROM staff_audit")))
    assert typo not in stored and wrong_password not in stored


@pytest.mark.parametrize(
    "statement", ["UPDATE staff_audit SET detail = 'changed'", "DELETE FROM staff_audit"]
)
async def test_the_audit_trail_cannot_be_changed_or_emptied(
    api: Api, lead: Staff, database: AsyncEngine, statement: str
) -> None:
    async with database.connect() as connection:
        before = (await connection.execute(text("SELECT count(*) FROM staff_audit"))).scalar_one()
        assert before > 0
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text(statement))
        await connection.rollback()
        assert (await connection.execute(text("SELECT count(*) FROM staff_audit"))).scalar_one() == before


async def test_a_lead_exports_and_erases_from_the_page(
    api: Api, browser: httpx.AsyncClient, lead: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, lead)
    page = await browser.get(f"/staff/people/{person.person_id}")
    assert "Erase this person" in page.text

    exported = await browser.get(f"/staff/people/{person.person_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    held = json.loads(exported.text)
    assert held["person"]["id"] == person.person_id
    assert person.email in exported.text
    as_text = await browser.get(f"/staff/people/{person.person_id}/export", params={"format": "text"})
    assert as_text.headers["content-type"].startswith("text/plain") and person.email in as_text.text

    unconfirmed = await browser.post(
        f"/staff/people/{person.person_id}/erasure", data={"reason": "asked", "_csrf_token": csrf_of(page)}
    )
    assert unconfirmed.status_code == 422 and "cannot be undone" in unconfirmed.text
    assert (await api.get(f"/v1/people/{person.person_id}")).status_code == 200

    hold = await api.post(f"/v1/people/{person.person_id}/legal-holds", {"reason": "Claim 7"}, scope="admin")
    held_back = await browser.post(
        f"/staff/people/{person.person_id}/erasure",
        data={"reason": "Asked to be forgotten (letter)", "confirm": "erase", "_csrf_token": csrf_of(page)},
    )
    assert (
        held_back.status_code == 409
        and "legal hold" in held_back.text.lower()
        and "Claim 7" in held_back.text
    )
    hold_path = f"/v1/people/{person.person_id}/legal-holds/{hold.json()['id']}"
    assert (await api.delete(hold_path, None, scope="admin")).status_code == 200

    erased = await browser.post(
        f"/staff/people/{person.person_id}/erasure",
        data={"reason": "Asked to be forgotten (letter)", "confirm": "erase", "_csrf_token": csrf_of(page)},
    )
    assert erased.status_code == 200 and "details are erased" in erased.text
    assert (await api.get(f"/v1/people/{person.person_id}")).status_code == 404
    assert (await browser.get(f"/staff/people/{person.person_id}")).status_code == 404
    answer = await api.check("email", person.email)
    assert (answer["allowed"], answer["reason"]) == (False, "person_erased")


async def _registration(api: Api, email: str, source: str, choices: list[dict[str, object]]) -> str:
    response = await api.post(
        "/v1/registrations",
        {"person": {"contacts": [{"kind": "email", "value": email}]}, "choices": choices, "source": source},
        scope="forms",
    )
    assert response.status_code == 201, response.text
    person_id: str = response.json()["person_id"]
    return person_id


async def test_a_family_erased_earlier_who_registers_again_is_contacted_as_they_asked(
    api: Api, browser: httpx.AsyncClient, plain: Staff
) -> None:
    email = fresh_email()
    first = await _registration(api, email, "web_form", [grant("email")])
    erased = await api.post(f"/v1/people/{first}/erasure", {"reason": "asked to be forgotten"}, scope="admin")
    assert erased.status_code == 200, erased.text

    # A re-imported address is not someone registering again: nothing, administration included.
    imported = await _registration(api, email, "import", [grant("email")])
    for purpose in ("marketing", "administrative"):
        answer = await api.check("email", email, purpose=purpose)
        assert (answer["allowed"], answer["reason"]) == (False, "person_erased"), purpose
    await signed_in(browser, plain)
    assert 'id="erased-before"' in (await browser.get(f"/staff/people/{imported}")).text

    # The family registers again with a fresh grant by email: a new person, contacted as they asked.
    again = await _registration(api, email, "web_form", [grant("email")])
    marketing = await api.check("email", None, person_id=again)
    assert (marketing["allowed"], marketing["reason"]) == (True, "consent_granted")
    admin = await api.check("email", None, purpose="administrative", person_id=again)
    assert (admin["allowed"], admin["reason"]) == (True, "administrative")
    # The address itself is still shared with the re-imported record, which may not be marketed to.
    assert (await api.check("email", email))["allowed"] is False

    page = await browser.get(f"/staff/people/{again}")
    assert 'id="erased-before"' in page.text
    assert first not in page.text
    unrelated = await family(api)
    assert 'id="erased-before"' not in (await browser.get(f"/staff/people/{unrelated.person_id}")).text


async def test_a_fresh_registration_after_an_erasure_is_marketed_to_only_where_it_granted(
    api: Api,
) -> None:
    email = fresh_email()
    postal = {"lines": [f"{secrets.randbelow(900) + 1} Erased Row"], "postcode": "LS2 7EW"}
    contacts = [{"kind": "email", "value": email}, {"kind": "postal", "value": postal}]

    async def registered(choices: list[dict[str, object]]) -> str:
        body = {"person": {"contacts": contacts}, "choices": choices, "source": "web_form"}
        response = await api.post("/v1/registrations", body, scope="forms")
        assert response.status_code == 201, response.text
        person_id: str = response.json()["person_id"]
        return person_id

    first = await registered([grant("email"), grant("post")])
    erased = await api.post(f"/v1/people/{first}/erasure", {"reason": "forget me"}, scope="admin")
    assert erased.status_code == 200
    await registered([grant("email")])

    by_address = await api.check("email", email)
    assert (by_address["allowed"], by_address["reason"]) == (True, "consent_granted")
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True
    assert (await api.check("post", postal, purpose="administrative"))["allowed"] is True
    # Post is legitimate interests: any new person would get marketing letters, but this address was
    # erased and the family granted only email since, so the tombstone still stops letters.
    letters = await api.check("post", postal)
    assert (letters["allowed"], letters["reason"]) == (False, "person_erased")
    bulk = await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "email", "to": [email]}, scope="checks"
    )
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["results"][0]["allowed"] is True


def _staff_cli(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(CLI), "staff", *args],
        env=command_line_environment(api.settings) | {"CONSENT_STAFF_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_command_line_makes_a_lead_unless_told_and_changes_roles_on_the_trail(
    api: Api, browser: httpx.AsyncClient, lead: Staff
) -> None:
    first, second = f"cli.{uuid.uuid4().hex[:8]}", f"cli.{uuid.uuid4().hex[:8]}"
    made = await asyncio.to_thread(_staff_cli, api, "create", "--username", first, "--name", "Kit Cli")
    assert made.returncode == 0 and "lead" in made.stdout, made.stderr
    plain_made = await asyncio.to_thread(
        _staff_cli, api, "create", "--username", second, "--name", "Jo Cli", "--role", "staff"
    )
    assert plain_made.returncode == 0, plain_made.stderr
    await signed_in(browser, Staff(second, "Jo Cli"))
    assert (await browser.get("/staff/accounts")).status_code == 403

    promoted = await asyncio.to_thread(_staff_cli, api, "role", "--username", second, "--role", "lead")
    assert promoted.returncode == 0 and "now a lead" in promoted.stdout, promoted.stderr
    assert (await browser.get("/staff/accounts")).status_code == 200
    trail = (await browser.get("/staff/audit")).text
    assert f"<td>Role changed</td><td>{second}</td><td>cli</td><td>staff to lead</td>" in trail
    assert f"<td>Account created</td><td>{first}</td><td>cli</td><td>role lead</td>" in trail


async def test_the_last_lead_cannot_be_disabled_or_demoted_by_another_account(fresh: Fresh) -> None:
    ctx = fresh.context
    only = await create_account(ctx, "only.lead", "Only Lead", PASSWORD, Role.LEAD)
    helper = await create_account(ctx, "helper", "Helper", PASSWORD, Role.STAFF, actor="staff:only.lead")
    with pytest.raises(Conflict, match="only lead left"):
        await staff.change_role(ctx, only.username, Role.STAFF, "staff:only.lead")
    with pytest.raises(Conflict, match="only lead left"):
        await staff.disable_account(ctx, only.username, "staff:only.lead")
    assert await staff.enabled_account(ctx, only.username) == only

    assert await staff.change_role(ctx, helper.username, Role.LEAD, "staff:only.lead")
    assert await staff.disable_account(ctx, only.username, "staff:helper")
    actions = [(e.action.value, e.subject, e.actor) for e in await staff.audit_trail(ctx)]
    assert actions == [
        ("account_disabled", "only.lead", "staff:helper"),
        ("role_changed", "helper", "staff:only.lead"),
        ("account_created", "helper", "staff:only.lead"),
        ("account_created", "only.lead", "cli"),
    ]
