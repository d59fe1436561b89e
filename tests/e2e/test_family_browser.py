"""The families' pages beyond unsubscribing, in a real browser (issue 16): who runs them and the right to
object on every page, stopping all marketing in one step (with JavaScript off, by keyboard), the story
permission, an address the service does not hold, and a household's shared email.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the service started as a process,
as tests/e2e/test_browser.py does, with its fixtures; skipped or failed as it is when Chromium or
Playwright is missing. Screenshots and Playwright traces go to test-artifacts/family/.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import Server, running
from tests.e2e.test_browser import CHANNELS, api, browser, check, page, shot, tab_to

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["browser", "page", "shot"]  # fixtures shared with the families' first browser test

ARTIFACTS_FOLDER = "family"
#: The organisation every family page names (CONSENT_ORG_*).
ORGANISATION = {
    "CONSENT_ORG_NAME": "Home-Start Riverside",
    "CONSENT_ORG_EMAIL": "privacy@homestart-riverside.example",
    "CONSENT_ORG_PHONE": "01632 960 001",
    "CONSENT_ORG_ADDRESS": "1 Mill Lane, Riverside, RS1 1AA",
    "CONSENT_ORG_POLICY_URL": "https://homestart-riverside.example/privacy",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service as an organisation that has named itself, so every page has something to show."""
    with running(tmp_path_factory.mktemp("served"), **ORGANISATION) as served:
        yield served


@pytest.fixture
def no_script(browser: Browser) -> Iterator[Page]:
    """A page with JavaScript off: the families' forms must work without it."""
    context = browser.new_context(locale="en-GB", java_script_enabled=False)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def registered(server: Server, email: str, phone: str, choices: list[dict[str, Any]], **person: Any) -> str:
    contacts = [{"kind": "email", "value": email}, {"kind": "phone", "value": phone}]
    body = {"person": {"contacts": contacts, **person}, "choices": choices, "source": "web_form"}
    answer = api(server, "POST", "/v1/registrations", json=body)
    assert answer.status_code == 201, answer.text
    person_id: str = answer.json()["person_id"]
    return person_id


def granted(purpose: str, channel: str | None) -> dict[str, Any]:
    notice = {"purpose": purpose, "version": 1}
    act = {"affirmative_action": "ticked_box", "pre_ticked": False}
    return {"purpose": purpose, "channel": channel, "decision": "granted", "notice": notice, **act}


def preferences_link(server: Server, to: str, channel: str = "email") -> str:
    minted = api(
        server, "POST", "/v1/unsubscribe-links", json={"to": to, "channel": channel, "purpose": "marketing"}
    )
    assert minted.status_code == 201, minted.text
    url: str = minted.json()["preferences_url"]
    return url


def fresh_family() -> tuple[str, str]:
    return f"family.{uuid.uuid4().hex[:10]}@example.org", f"07912 {random.randint(0, 999_999):06d}"


def test_a_family_stops_all_marketing_in_one_step_without_javascript(
    server: Server, no_script: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    page = no_script
    email, phone = fresh_family()
    choices = [granted("marketing", "email"), granted("marketing", "sms"), granted("testimonial", None)]
    person = registered(server, email, phone, choices)
    page.goto(preferences_link(server, email))

    # Every page names the organisation, how to reach it and its privacy notice, and the right to object.
    footer = page.get_by_role("contentinfo")
    expect(footer).to_contain_text("Home-Start Riverside")
    expect(footer.get_by_role("link", name="privacy@homestart-riverside.example")).to_have_attribute(
        "href", "mailto:privacy@homestart-riverside.example"
    )
    expect(footer.get_by_role("link", name="Read our privacy notice")).to_have_attribute(
        "href", ORGANISATION["CONSENT_ORG_POLICY_URL"]
    )
    expect(page.get_by_role("region", name="Your right to object")).to_contain_text(
        "You have the right to object to direct marketing"
    )
    # The story is a choice the family can change here too.
    expect(page.get_by_role("group", name="Your permission").get_by_label("Yes", exact=True)).to_be_checked()

    stop_all = page.get_by_role("region", name="Stop all marketing")
    expect(stop_all).to_contain_text(
        "Messages about your appointments and our services will still reach you."
    )
    shot(page, "05-stop-all-offered")
    tab_to(page, "Stop all marketing", limit=40)
    expect(stop_all.get_by_role("button", name="Stop all marketing")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("All marketing is stopped")
    expect(page.get_by_role("status")).to_contain_text("Messages about your appointments")
    news = page.get_by_role("region", name="News, appeals and invitations")
    for group in CHANNELS:
        expect(
            news.get_by_role("group", name=group, exact=True).get_by_label("No", exact=True)
        ).to_be_checked()
    expect(page.get_by_role("group", name="Your permission").get_by_label("No", exact=True)).to_be_checked()
    for no in page.get_by_role("radio", name="No", exact=True).all():
        expect(no).to_be_checked()
    shot(page, "06-all-marketing-stopped")

    for channel, to in (("email", email), ("sms", phone), ("phone", phone)):
        answer = check(server, "marketing", channel, to)
        assert (answer["allowed"], answer["evidence"]["suppression_reason"]) == (False, "objected"), answer
        assert check(server, "administrative", channel, to)["allowed"] is True
    story = api(server, "POST", "/v1/checks", json={"purpose": "testimonial", "person_id": person}).json()
    assert story["allowed"] is False, story


def test_a_family_changes_their_story_permission_in_a_real_browser(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    email, phone = fresh_family()
    person = registered(server, email, phone, [granted("testimonial", None)])
    page.goto(preferences_link(server, email))
    permission = page.get_by_role("group", name="Your permission", exact=True)
    expect(permission.get_by_label("Yes", exact=True)).to_be_checked()
    permission.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved")
    shot(page, "07-story-permission-withdrawn")

    story = api(server, "POST", "/v1/checks", json={"purpose": "testimonial", "person_id": person}).json()
    assert (story["allowed"], story["reason"]) == (False, "consent_withdrawn"), story


def test_an_address_we_do_not_hold_can_still_opt_out_in_a_real_browser(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    stranger, _ = fresh_family()
    page.goto(preferences_link(server, stranger))
    expect(page.locator("main")).to_contain_text("We do not hold any preferences for this address.")
    expect(page.get_by_role("contentinfo")).to_contain_text("Home-Start Riverside")
    shot(page, "08-address-not-held")
    page.get_by_role("button", name="Stop all marketing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All marketing is stopped")

    answer = check(server, "marketing", "email", stranger)
    assert (answer["reason"], answer["evidence"]["suppression_reason"]) == ("suppressed", "objected"), answer
    assert check(server, "administrative", "email", stranger)["allowed"] is True


def test_a_household_email_shows_whose_choices_and_changes_only_its_own(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    shared, _ = fresh_family()
    phones = []
    for name in ("Sam Taylor", "Alex Morgan"):
        _, phone = fresh_family()
        registered(
            server,
            shared,
            phone,
            [granted("marketing", "email"), granted("marketing", "sms")],
            display_name=name,
        )
        phones.append(phone)
    page.goto(preferences_link(server, shared))
    whose = page.locator("#whose")
    expect(whose).to_contain_text("shared by 2 people")
    expect(whose).to_contain_text("Sam")
    expect(whose).to_contain_text("Alex")
    expect(page.locator("body")).not_to_contain_text("Taylor")
    for group in ("Text message", "Phone call", "Post", "Your permission"):
        expect(page.get_by_role("group", name=group, exact=True)).to_have_count(0)
    news = page.get_by_role("region", name="News, appeals and invitations")
    email = news.get_by_role("group", name="Email", exact=True)
    expect(email.get_by_label("Yes", exact=True)).to_be_checked()
    email.get_by_label("No", exact=True).check()
    shot(page, "09-household-email")
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved")

    assert check(server, "marketing", "email", shared)["allowed"] is False
    for phone in phones:
        texts = check(server, "marketing", "sms", phone)
        assert (texts["allowed"], texts["reason"]) == (True, "consent_granted"), texts
