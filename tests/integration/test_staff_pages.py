"""The staff page for phone calls (issue 4), through the app's HTTP interface like a browser without
JavaScript: sign in, find a family, change a choice with how the request came in, restrict contact."""

from __future__ import annotations

import html
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from msgspec.structs import replace

from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.config import Limits
from consent_service.domain.staff import Role
from consent_service.services.staff import create_account, disable_account
from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_links import SECURITY_HEADERS
from tests.integration.test_registrations import grant
from tests.support.asgi import in_process

PASSWORD = "correct horse battery staple"
NO_MATCH = "Those details did not match"
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@dataclass
class Staff:
    username: str
    display_name: str


@dataclass
class Family:
    person_id: str
    email: str
    mobile: str
    postal: dict[str, Any]
    reference: str
    name: str


@pytest.fixture
def browser(fresh_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return fresh_client


@pytest.fixture
async def member(api: Api) -> Staff:
    username = f"staff.{uuid.uuid4().hex[:10]}"
    display_name = f"Sam Caller {secrets.token_hex(2)}"
    # A lead: these tests lift restrictions too (tests/integration/test_staff_roles.py covers plain staff).
    await create_account(api.context, username, display_name, PASSWORD, Role.LEAD)
    return Staff(username, display_name)


async def family(api: Api, postcode: str = "LS1 4AP") -> Family:
    email, mobile = fresh_email(), fresh_mobile()
    postal = {"lines": [f"{secrets.randbelow(900) + 1} Test Road"], "postcode": postcode}
    reference = f"CASE-{uuid.uuid4().hex[:10]}"
    name = f"Jordan Testfamily{uuid.uuid4().hex[:8]}"
    body = {
        "person": {
            "reference": reference,
            "display_name": name,
            "contacts": [
                {"kind": "email", "value": email},
                {"kind": "phone", "value": mobile},
                {"kind": "postal", "value": postal},
            ],
        },
        "choices": [grant("email"), grant("sms")],
        "source": "web_form",
    }
    response = await api.post("/v1/registrations", body, scope="forms")
    assert response.status_code == 201, response.text
    return Family(response.json()["person_id"], email, mobile, postal, reference, name)


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, "the page's forms carry no CSRF token"
    return html.unescape(found.group(1))


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/staff/sign-in")
    assert page.status_code == 200, page.text
    return await client.post(
        "/staff/sign-in",
        data={"username": username, "password": password, "_csrf_token": csrf_of(page)},
    )


async def signed_in(client: httpx.AsyncClient, staff: Staff) -> None:
    response = await sign_in(client, staff.username)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff"


async def history(api: Api, person_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/people/{person_id}/history")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def a_withdrawal(csrf: str | None, **more: str) -> dict[str, str]:
    form = {"choice:marketing:email": "withdrawn", "source": "phone_call", "note": "asked on the phone"}
    return form | ({"_csrf_token": csrf} if csrf else {}) | more


async def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(
    api: Api, browser: httpx.AsyncClient
) -> None:
    person = await family(api)
    sessions = api.settings.data_dir / "sessions"
    stored = set(sessions.iterdir()) if sessions.exists() else set()
    for path in ("/staff", f"/staff?q={person.email}", f"/staff/people/{person.person_id}"):
        response = await browser.get(path)
        assert response.status_code == 303, (path, response.text)
        assert response.headers["location"] == "/staff/sign-in"
        assert person.email not in response.text
    page = await browser.get("/staff/sign-in")
    assert page.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert '<label for="username">Username</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    # Nobody signed in, so no session is kept for them.
    assert (set(sessions.iterdir()) if sessions.exists() else set()) == stored
    assert browser.cookies.get("staff_session", path="/staff") in (None, "null")


async def test_a_change_posted_without_a_session_is_refused_and_changes_nothing(
    api: Api, browser: httpx.AsyncClient
) -> None:
    person = await family(api)
    before = await history(api, person.person_id)
    csrf = csrf_of(await browser.get("/staff/sign-in"))  # a valid CSRF pair, but nobody signed in

    changed = await browser.post(f"/staff/people/{person.person_id}/choices", data=a_withdrawal(csrf))
    assert changed.status_code == 401
    assert "Nothing was changed" in changed.text
    restricted = await browser.post(
        f"/staff/people/{person.person_id}/restrictions",
        data={"channel": "post", "reason": "forged", "_csrf_token": csrf},
    )
    assert restricted.status_code == 401

    assert await history(api, person.person_id) == before
    assert (await api.get(f"/v1/people/{person.person_id}/restrictions")).json()["items"] == []
    assert (await api.check("email", person.email))["allowed"] is True


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    wrong = await sign_in(browser, member.username, "not the password at all")
    unknown = await sign_in(browser, "nobody.here", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert NO_MATCH in response.text
        assert browser.cookies.get("staff_session", path="/staff") in (None, "null")

    def without_details(page: httpx.Response) -> str:
        body = page.text.replace(member.username, "").replace("nobody.here", "")
        return _CSRF.sub("", body)

    assert without_details(wrong) == without_details(unknown)
    assert (await browser.get("/staff")).status_code == 303


async def test_a_phone_call_change_by_a_named_staff_member_is_on_the_history(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)

    found = await browser.get("/staff", params={"q": person.email.upper()})
    assert found.status_code == 200
    link = f'href="/staff/people/{person.person_id}"'
    assert link in found.text
    assert member.display_name in found.text

    page = await browser.get(f"/staff/people/{person.person_id}")
    assert page.status_code == 200
    assert person.email in page.text and person.name in page.text
    assert '<label for="source">How did the request come in</label>' in page.text
    assert '<label for="choice:marketing:post">Post</label>' in page.text

    note = "Mum rang: no more marketing emails, please"
    saved = await browser.post(
        f"/staff/people/{person.person_id}/choices",
        data=a_withdrawal(csrf_of(page), note=note, on_behalf_of="Alex, her son (14)"),
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/staff/people/{person.person_id}"

    shown = await browser.get(saved.headers["location"])
    assert "Saved: 1 change recorded from a phone call." in shown.text
    assert html.escape(note) in shown.text
    assert "Saved:" not in (await browser.get(saved.headers["location"])).text, "the confirmation shows once"

    last = (await history(api, person.person_id))[-1]
    assert (last["purpose"], last["channel"], last["decision"]) == ("marketing", "email", "withdrawn")
    assert last["source"] == "phone_call"
    assert last["actor"] == f"staff:{member.username}"
    assert last["evidence"]["staff_member"] == member.display_name
    assert last["evidence"]["note"] == note
    assert last["evidence"]["on_behalf_of"] == "Alex, her son (14)"
    assert (await api.check("email", person.email))["allowed"] is False


async def test_a_grant_by_letter_records_the_wording_the_page_showed(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    page = await browser.get(f"/staff/people/{person.person_id}")
    assert 'name="notice:marketing" value="1"' in page.text
    assert '<option value="signed">They signed to say yes</option>' in page.text
    saved = await browser.post(
        f"/staff/people/{person.person_id}/choices",
        data={
            "choice:marketing:phone": "granted",
            "choice:testimonial:none": "granted",
            "notice:marketing": "1",
            "notice:testimonial": "1",
            "source": "letter",
            "affirmative_action": "signed",
            "_csrf_token": csrf_of(page),
        },
    )
    assert saved.status_code == 303, saved.text
    events = (await history(api, person.person_id))[-2:]
    assert {(e["purpose"], e["channel"]) for e in events} == {("marketing", "phone"), ("testimonial", None)}
    assert all(e["source"] == "letter" and e["notice"]["version"] == 1 for e in events)
    # How they agreed, as the staff member chose it; the page records that the yes was theirs.
    assert all(e["evidence"]["affirmative_action"] == "signed" for e in events)
    assert all(e["evidence"]["pre_ticked"] is False for e in events)
    assert (await api.check("phone", person.mobile))["allowed"] is True


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"choice:marketing:email": "withdrawn"}, "Choose how the request came in."),
        ({"source": "pigeon", "choice:marketing:email": "withdrawn"}, "Choose how the request came in."),
        ({"source": "phone_call"}, "Choose at least one change"),
        ({"source": "phone_call", "choice:marketing:email": "maybe"}, "choose from the list"),
        ({"source": "phone_call", "choice:marketing:email": "granted"}, "cannot be granted"),
        (
            {"source": "phone_call", "choice:marketing:email": "granted", "notice:marketing": "1"},
            "Choose how they agreed",
        ),
        (
            {
                "source": "phone_call",
                "choice:marketing:email": "granted",
                "notice:marketing": "1",
                "affirmative_action": "nodded",
            },
            "Choose how they agreed",
        ),
    ],
)
async def test_a_form_that_is_not_right_changes_nothing_and_says_why(
    api: Api, browser: httpx.AsyncClient, member: Staff, form: dict[str, str], message: str
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    before = await history(api, person.person_id)
    page = await browser.get(f"/staff/people/{person.person_id}")
    refused = await browser.post(
        f"/staff/people/{person.person_id}/choices", data=form | {"_csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 422
    assert "Nothing was changed" in refused.text
    assert html.escape(message).split("“")[0] in refused.text
    assert await history(api, person.person_id) == before


async def test_a_post_without_the_csrf_token_is_refused(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    no_token = await browser.post("/staff/sign-in", data={"username": member.username, "password": PASSWORD})
    assert no_token.status_code == 403
    await signed_in(browser, member)
    before = await history(api, person.person_id)

    forged = await browser.post(f"/staff/people/{person.person_id}/choices", data=a_withdrawal(None))
    assert forged.status_code == 403
    wrong = await browser.post(
        f"/staff/people/{person.person_id}/choices", data=a_withdrawal(secrets.token_hex(64))
    )
    assert wrong.status_code == 403
    assert await history(api, person.person_id) == before


async def test_search_by_phone_reference_and_name(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    link = f'href="/staff/people/{person.person_id}"'
    spelled = "+44 " + person.mobile.removeprefix("0")
    for query in (person.mobile, spelled, person.reference, person.name.lower(), person.name.split()[1][4:]):
        found = await browser.get("/staff", params={"q": query})
        assert found.status_code == 200
        assert link in found.text, query
    nobody = await browser.get("/staff", params={"q": "CASE-does-not-exist"})
    assert "Nobody found" in nobody.text
    bad = await browser.get("/staff", params={"q": "not an email@"})
    assert "not a valid email address" in bad.text
    assert (await browser.get(f"/staff/people/{uuid.uuid4()}")).status_code == 404


async def test_a_safeguarding_restriction_on_post_is_added_and_lifted_from_the_page(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    page = await browser.get(f"/staff/people/{person.person_id}")
    assert (await api.check("post", person.postal, purpose="administrative"))["allowed"] is True

    added = await browser.post(
        f"/staff/people/{person.person_id}/restrictions",
        data={
            "channel": "post",
            "contact": "",
            "reason": "Risk at the home address",
            "_csrf_token": csrf_of(page),
        },
    )
    assert added.status_code == 303, added.text
    post = await api.check("post", person.postal, purpose="administrative")
    assert (post["allowed"], post["reason"]) == (False, "contact_restricted")
    assert (await api.check("email", person.email, purpose="administrative"))["allowed"] is True

    shown = await browser.get(f"/staff/people/{person.person_id}")
    assert "Restriction added" in shown.text and "Risk at the home address" in shown.text
    restriction = (await api.get(f"/v1/people/{person.person_id}/restrictions")).json()["items"][0]
    assert restriction["created_by"] == f"staff:{member.username}"
    lift_url = f"/staff/people/{person.person_id}/restrictions/{restriction['id']}/lift"
    assert f'action="{lift_url}"' in shown.text

    no_reason = await browser.post(lift_url, data={"reason": " ", "_csrf_token": csrf_of(shown)})
    assert no_reason.status_code == 422
    lifted = await browser.post(
        lift_url, data={"reason": "Moved to a safe address", "_csrf_token": csrf_of(shown)}
    )
    assert lifted.status_code == 303
    assert (await api.check("post", person.postal, purpose="administrative"))["allowed"] is True
    assert "Moved to a safe address" in (await browser.get(f"/staff/people/{person.person_id}")).text


async def test_a_restriction_on_one_contact_point_must_fit_the_channel(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    person = await family(api)
    await signed_in(browser, member)
    page = await browser.get(f"/staff/people/{person.person_id}")
    email_id = re.search(r'<option value="([^"]+)">Email: ', page.text)
    assert email_id
    refused = await browser.post(
        f"/staff/people/{person.person_id}/restrictions",
        data={"channel": "post", "contact": email_id.group(1), "reason": "x", "_csrf_token": csrf_of(page)},
    )
    assert refused.status_code == 422
    assert "is not used for post" in refused.text
    added = await browser.post(
        f"/staff/people/{person.person_id}/restrictions",
        data={
            "channel": "",
            "contact": email_id.group(1),
            "reason": "Shared inbox",
            "_csrf_token": csrf_of(page),
        },
    )
    assert added.status_code == 303
    assert (await api.check("email", person.email, purpose="administrative"))[
        "reason"
    ] == "contact_restricted"
    assert (await api.check("sms", person.mobile, purpose="administrative"))["allowed"] is True


async def test_signing_in_takes_a_new_session_and_signing_out_ends_it(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    form = await browser.get("/staff/sign-in")
    # A session id set in the browser beforehand (by someone who hopes to share the session) ...
    planted = secrets.token_hex(32)
    browser.cookies.set("staff_session", planted, domain="testserver.local", path="/staff")
    signed = await browser.post(
        "/staff/sign-in",
        data={"username": member.username, "password": PASSWORD, "_csrf_token": csrf_of(form)},
    )
    assert signed.request.headers["cookie"].count(f"staff_session={planted}") == 1
    assert signed.status_code == 303
    # ... is not the one the signed-in session is kept under.
    session = browser.cookies.get("staff_session", path="/staff", domain="testserver.local")
    assert session and session not in (planted, "null")
    browser.cookies.set("staff_session", planted, domain="testserver.local", path="/staff")
    assert (await browser.get("/staff")).status_code == 303
    browser.cookies.set("staff_session", session, domain="testserver.local", path="/staff")

    page = await browser.get("/staff")
    assert page.status_code == 200
    out = await browser.post("/staff/sign-out", data={"_csrf_token": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"] == "/staff/sign-in"
    assert (await browser.get("/staff")).status_code == 303

    browser.cookies.set("staff_session", session, domain="testserver.local", path="/staff")
    assert (await browser.get("/staff")).status_code == 303, "a signed-out session id is no longer valid"


async def test_staff_pages_are_not_throttled_but_password_guesses_are(api: Api, member: Staff) -> None:
    # Counters of its own (in memory): the suite's other requests share the Redis-backed ones.
    limited_settings = replace(api.settings, limits=Limits(public_rate_limit=3), redis_url=None)
    context = build_context(limited_settings)
    await context.catalogue.reload()
    app = create_app(limited_settings, context)
    transport = in_process(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await signed_in(client, member)
        pages = [(await client.get("/staff", params={"q": "nobody"})).status_code for _ in range(6)]
        assert pages == [200] * 6
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        guesses = [(await sign_in(client, member.username, "wrong")).status_code for _ in range(4)]
        assert 429 in guesses and guesses[0] != 429
    await shutdown(app, context)


async def test_disabling_an_account_ends_the_sessions_it_holds(
    api: Api, browser: httpx.AsyncClient, member: Staff
) -> None:
    await signed_in(browser, member)
    assert (await browser.get("/staff")).status_code == 200
    assert await disable_account(api.context, member.username)
    after = await browser.get("/staff")
    assert after.status_code == 303 and after.headers["location"].startswith("/staff/sign-in")
    refused = await sign_in(browser, member.username)
    assert refused.status_code != 303 and NO_MATCH in refused.text
    assert not await disable_account(api.context, member.username)
