"""A lead manages a staff account in a real browser (issue 16): makes it, reads the password shown once,
and the new member signs in as plain staff, is kept from what only a lead may do, and is disabled.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the service started as a process;
the lead is made by `consent-service staff create` (a lead by default). Screenshots and a trace go to
test-artifacts/staff-roles/.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.e2e.conftest import Server
from tests.e2e.test_browser import browser, page, shot
from tests.e2e.test_staff_browser import PASSWORD, api, check, make_staff_account

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["browser", "page", "shot"]  # fixtures shared with the families' browser test

ARTIFACTS_FOLDER = "staff-roles"


def _sign_in(page: Page, server: Server, username: str, password: str) -> None:
    page.goto(f"{server.base}/staff/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_lead_makes_an_account_and_disables_it_in_a_real_browser(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    lead = f"lee.{uuid.uuid4().hex[:6]}"
    make_staff_account(server, lead, "Lee Lead")
    _sign_in(page, server, lead, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a person")

    # a. The lead's bar offers the accounts and the audit trail; they make a plain staff account.
    page.get_by_role("link", name="Staff accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    newcomer = f"sam.{uuid.uuid4().hex[:6]}"
    making = page.get_by_role("group", name="Make an account")
    making.get_by_label("Username").fill(newcomer)
    making.get_by_label("Name shown on the records they make").fill("Sam Newstarter")
    making.get_by_label("Role").select_option("staff")
    shot(page, "01-make-an-account")
    page.get_by_role("button", name="Make the account").click()
    expect(page.get_by_role("status")).to_have_text(f"Account {newcomer} made (staff).")
    password = page.locator("#one-time-password code").inner_text()
    assert len(password) >= 12
    expect(page.get_by_role("table", name="Every account, disabled ones too")).to_contain_text(
        "Sam Newstarter"
    )
    shot(page, "02-password-shown-once")

    # b. The newcomer signs in with it: a plain member, no accounts link, a 403 page if they try.
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, server, newcomer, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a person")
    expect(page.get_by_role("navigation", name="Staff")).not_to_contain_text("Staff accounts")
    answered = page.goto(f"{server.base}/staff/accounts")
    assert answered is not None and answered.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Only a lead can do this")
    shot(page, "03-not-a-lead")
    page.get_by_role("button", name="Sign out").click()

    # c. The lead disables the account; the audit trail shows the sign-in and the change.
    _sign_in(page, server, lead, PASSWORD)
    page.get_by_role("link", name="Staff accounts").click()
    page.get_by_role("button", name=f"Disable {newcomer}").click()
    expect(page.get_by_role("status")).to_contain_text(f"{newcomer} is disabled")
    page.get_by_role("link", name="Audit trail").click()
    trail = page.get_by_role("table", name="Audit trail, newest first")
    expect(trail.get_by_role("row").nth(1)).to_contain_text("Account disabled")
    expect(trail).to_contain_text("Account created")
    expect(trail).to_contain_text(newcomer)
    shot(page, "04-audit-trail")

    # d. A family asks to be forgotten: the lead erases them from their page, confirming with a tick.
    email = f"family.{uuid.uuid4().hex[:10]}@example.org"
    registered = api(server, "POST", "/v1/registrations", json=registration(email))
    assert registered.status_code == 201, registered.text
    page.goto(f"{server.base}/staff/people/{registered.json()['person_id']}")
    erasing = page.get_by_role("group", name="Erase this person")
    erasing.get_by_label("Reason").fill("Asked by letter to be forgotten")
    erasing.get_by_label("I understand this cannot be undone").check()
    shot(page, "05-erase-filled-in")
    page.get_by_role("button", name="Erase this person").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erased")
    assert check(server, "marketing", "email", email)["reason"] == "person_erased"

    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, server, newcomer, password)
    expect(page.get_by_role("alert")).to_contain_text("Those details did not match")


def registration(email: str) -> dict[str, Any]:
    return {
        "person": {"display_name": "Alex Forgetme", "contacts": [{"kind": "email", "value": email}]},
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
