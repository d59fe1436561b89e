"""The staff page for phone calls in a real browser: sign in, find a family, record an objection to post
taken on the phone, and restrict contact by post for safeguarding.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the service started as a process,
with a staff account made by the `consent-service staff create` command. Skipped locally when Chromium
or Playwright is missing; in CI (CI=true) it fails instead. Screenshots and a Playwright trace go to
test-artifacts/staff/.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from tests.e2e.conftest import BIN, Server
from tests.e2e.test_browser import browser, page, shot

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["browser", "page", "shot"]  # fixtures shared with the families' browser test

ARTIFACTS_FOLDER = "staff"
PASSWORD = "a long staff password, typed by hand"
POSTAL = {"lines": ["1 Test Road"], "postcode": "LS1 4AP"}


def api(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.base}{path}", headers=server.auth, timeout=10, **kwargs)


def check(server: Server, purpose: str, channel: str, to: Any) -> dict[str, Any]:
    answer = api(server, "POST", "/v1/checks", json={"purpose": purpose, "channel": channel, "to": to})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def make_staff_account(server: Server, username: str, display_name: str) -> None:
    """The command an administrator runs on the server, against the server's own data directory."""
    env = {**os.environ, "CONSENT_DATA_DIR": str(server.data_dir), "CONSENT_STAFF_PASSWORD": PASSWORD}
    env.pop("CONSENT_DATABASE_URL", None)
    env.pop("CONSENT_REDIS_URL", None)
    made = subprocess.run(  # noqa: S603
        [str(BIN / "consent-service"), "staff", "create", "--username", username, "--name", display_name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert f"staff account {username!r}" in made.stdout, made.stdout
    again = subprocess.run(  # noqa: S603
        [str(BIN / "consent-service"), "staff", "create", "--username", username, "--name", display_name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1 and "exists" in again.stderr, (again.stdout, again.stderr)


def test_staff_record_a_phone_call_and_a_safeguarding_restriction_in_a_real_browser(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    username, staff_name = f"pat.{uuid.uuid4().hex[:6]}", "Pat Phonecall"
    make_staff_account(server, username, staff_name)

    # A family registered on a web form, agreeing to marketing emails; post is on legitimate interests.
    email = f"family.{uuid.uuid4().hex[:10]}@example.org"
    family_name = f"Robin Staffpage {uuid.uuid4().hex[:4]}"
    registration = {
        "person": {
            "display_name": family_name,
            "contacts": [{"kind": "email", "value": email}, {"kind": "postal", "value": POSTAL}],
        },
        "choices": [
            {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
                "notice": {"purpose": "marketing", "version": 1},
            }
        ],
        "source": "web_form",
    }
    registered = api(server, "POST", "/v1/registrations", json=registration)
    assert registered.status_code == 201, registered.text
    person_id = registered.json()["person_id"]
    assert check(server, "marketing", "post", POSTAL)["allowed"] is True

    # a. The staff page without signing in leads to the sign-in form; a wrong password is turned away.
    page.goto(f"{server.base}/staff/people/{person_id}")
    expect(page).to_have_url(f"{server.base}/staff/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Those details did not match")
    shot(page, "01-sign-in-refused")

    # b. Signing in with the keyboard alone: type, Tab, type, Enter.
    page.get_by_label("Username").fill("")
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a person")
    expect(page.get_by_role("navigation", name="Staff")).to_contain_text(staff_name)

    # c. Search by the family's email, as they give it on the phone.
    page.get_by_label("Email, phone, reference, name or postcode").fill(email.upper())
    page.keyboard.press("Enter")
    result = page.get_by_role("link", name=family_name)
    expect(result).to_be_visible()
    shot(page, "02-search-by-email")
    result.click()

    # d. The person: contacts, choices and history, and the form to change them.
    expect(page.get_by_role("heading", level=1)).to_have_text(family_name)
    expect(page.locator("body")).to_contain_text(email)
    expect(page.locator("body")).to_contain_text("1 test road, LS1 4AP")
    shot(page, "03-person")

    # e. On the phone: "please stop sending us post". An objection to marketing by post.
    marketing = page.get_by_role("group", name="Marketing", exact=True)
    marketing.get_by_label("Post", exact=True).select_option("withdrawn")
    page.get_by_label("How did the request come in").select_option("phone_call")
    page.get_by_label("Note (optional)").fill("Rang the office: no more leaflets by post")
    shot(page, "04-objection-to-post-filled-in")
    page.get_by_role("button", name="Record the changes").click()

    expect(page.get_by_role("status")).to_have_text("Saved: 1 change recorded from a phone call.")
    history = page.get_by_role("region", name="History")
    newest = history.get_by_role("row").nth(1)
    for text in ("Marketing", "Post", "Withdrawn", "Phone call", staff_name, "no more leaflets by post"):
        expect(newest).to_contain_text(text)
    shot(page, "05-objection-recorded")

    objected = check(server, "marketing", "post", POSTAL)
    assert objected["allowed"] is False, objected
    events = api(server, "GET", f"/v1/people/{person_id}/history").json()["items"]
    assert (events[-1]["source"], events[-1]["evidence"]["staff_member"]) == ("phone_call", staff_name)

    # e2. On the same call they agree to marketing phone calls. A grant needs how they agreed: the
    # page refuses it until the staff member says, then records their yes as not pre-ticked.
    marketing = page.get_by_role("group", name="Marketing", exact=True)
    marketing.get_by_label("Phone call", exact=True).select_option("granted")
    page.get_by_label("How did the request come in").select_option("phone_call")
    page.get_by_role("button", name="Record the changes").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose how they agreed")
    expect(marketing.get_by_label("Phone call", exact=True)).to_have_value("granted")
    page.get_by_label("How did they agree").select_option("said_yes")
    page.get_by_role("button", name="Record the changes").click()
    expect(page.get_by_role("status")).to_have_text("Saved: 1 change recorded from a phone call.")
    said = api(server, "GET", f"/v1/people/{person_id}/history").json()["items"][-1]
    assert (said["decision"], said["channel"]) == ("granted", "phone")
    assert (said["evidence"]["affirmative_action"], said["evidence"]["pre_ticked"]) == ("said_yes", False)

    # f. Safeguarding: no contact by post at all, service letters included.
    assert check(server, "administrative", "post", POSTAL)["allowed"] is True
    adding = page.get_by_role("group", name="Add a safeguarding restriction")
    adding.get_by_label("Channel").select_option("post")
    adding.get_by_label("Reason").fill("Letters are opened by someone who must not know of our contact")
    shot(page, "06-restriction-filled-in")
    page.get_by_role("button", name="Add restriction").click()
    expect(page.get_by_role("status")).to_have_text(
        "Restriction added: no contact by post until it is lifted."
    )
    expect(page.get_by_role("table", name="In force")).to_contain_text("Letters are opened")
    shot(page, "07-restriction-added")

    restricted = check(server, "administrative", "post", POSTAL)
    assert (restricted["allowed"], restricted["reason"]) == (False, "contact_restricted"), restricted
    assert check(server, "administrative", "email", email)["allowed"] is True

    # g. Signing out ends it: the person's page leads back to sign-in.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign in")
    page.goto(f"{server.base}/staff/people/{person_id}")
    expect(page).to_have_url(f"{server.base}/staff/sign-in")
    shot(page, "08-signed-out")


def sign_in(page: Page, server: Server, username: str) -> None:
    page.goto(f"{server.base}/staff/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_staff_see_what_can_be_sent_add_a_person_and_suppress_an_address_in_a_real_browser(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    """Issue 16: the effective answer, a bounce lifted, a person added on the phone whose removed
    address stays suppressed, a letter's date, and an address not on record suppressed."""
    from playwright.sync_api import expect

    username = f"lee.{uuid.uuid4().hex[:6]}"
    make_staff_account(server, username, "Lee Lines")
    email = f"family.{uuid.uuid4().hex[:10]}@example.org"
    family_name = f"Morgan Bounced {uuid.uuid4().hex[:4]}"
    postal = {"lines": ["7 Bounce Lane"], "postcode": "LS2 7EE"}
    registration = {
        "person": {
            "display_name": family_name,
            "contacts": [{"kind": "email", "value": email}, {"kind": "postal", "value": postal}],
        },
        "choices": [
            {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
                "notice": {"purpose": "marketing", "version": 1},
            }
        ],
        "source": "web_form",
    }
    assert api(server, "POST", "/v1/registrations", json=registration).status_code == 201
    bounce = {"to": email, "channel": "email", "reason": "hard_bounce", "note": "550 mailbox unavailable"}
    assert api(server, "POST", "/v1/suppressions", json=bounce).status_code == 201

    # a. Found by postcode; the page says the granted email is not sent, and why.
    sign_in(page, server, username)
    page.get_by_label("Email, phone, reference, name or postcode").fill("ls2 7ee")
    page.keyboard.press("Enter")
    page.get_by_role("link", name=family_name).click()
    sendable = page.get_by_role("region", name="What can be sent now")
    email_row = sendable.get_by_role("row").filter(has_text=email).filter(has_text="Marketing")
    expect(email_row).to_contain_text("Not sent")
    expect(email_row).to_contain_text("messages to it bounced")
    shot(page, "11-bounced-address-not-sent")

    # b. She says the address works again: the bounce is lifted, with the reason chosen from a list
    # (no text box: the suppression list keeps no free text).
    suppressions = page.get_by_role("region", name="Suppressions")
    expect(suppressions.get_by_role("textbox")).to_have_count(0)
    suppressions.get_by_label(f"Reason for lifting ({email}, email)").select_option("confirmed_working")
    suppressions.get_by_role("button", name="Lift suppression 1").click()
    expect(page.get_by_role("status")).to_have_text("Suppression lifted.")
    lifted = page.get_by_role("table", name="Taken off the suppression list")
    expect(lifted).to_contain_text("The address or number was confirmed working")
    assert check(server, "marketing", "email", email)["allowed"] is True

    # c. A new caller: added on the phone with an email address.
    page.get_by_role("link", name="Find a person").click()
    page.get_by_role("link", name="Add a person who is not on record").click()
    caller = f"caller.{uuid.uuid4().hex[:10]}@example.org"
    page.get_by_label("Name").fill("Alex Phoned")
    page.get_by_label("Email address").fill(caller)
    page.get_by_role("button", name="Add the person").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alex Phoned")
    shot(page, "12-person-added")

    # d. Their letter, dated last week, says no more marketing email; the reason for the lateness noted.
    marketing = page.get_by_role("group", name="Marketing", exact=True)
    marketing.get_by_label("Email", exact=True).select_option("withdrawn")
    page.get_by_label("How did the request come in").select_option("letter")
    page.get_by_label("Date they said it, on a letter or paper form (optional)").fill("2026-01-05")
    page.get_by_label("Note (optional)").fill("Letter arrived after the holidays")
    page.get_by_role("button", name="Record the changes").click()
    expect(page.get_by_role("status")).to_have_text("Saved: 1 change recorded from a letter.")
    newest = page.get_by_role("region", name="History").get_by_role("row").nth(1)
    expect(newest).to_contain_text("05 Jan 2026")

    # e. Then the address is removed: it stays suppressed.
    page.get_by_role("button", name=f"Remove email {caller}").click()
    expect(page.get_by_role("status")).to_contain_text("stays on the suppression list")
    answer = check(server, "marketing", "email", caller)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed"), answer
    shot(page, "13-address-removed")

    # f. Someone we never had asks us to stop: suppressed from the search page.
    stranger = f"stranger.{uuid.uuid4().hex[:10]}@example.org"
    page.get_by_role("link", name="Find a person").click()
    page.get_by_label("Email, phone, reference, name or postcode").fill(stranger)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Nobody found")).to_be_visible()
    expect(page.get_by_label("How they asked")).to_have_value("phone_call")
    page.get_by_label("How they asked").select_option("email")
    page.get_by_role("button", name="Suppress this address").click()
    expect(page.get_by_role("status")).to_contain_text(f"{stranger} is on the suppression list")
    expect(page.get_by_text("how they asked: email")).to_be_visible()
    shot(page, "14-address-suppressed")
    answer = check(server, "marketing", "email", stranger)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed"), answer
