"""A family's own pages in a real browser: unsubscribe from a link, then change their preferences.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the service started as a process.
Skipped locally when either is missing; CI (CI=true) installs Chromium first, so there it fails instead.
Screenshots, and a Playwright trace to open with `playwright show-trace`, go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

from tests.e2e.conftest import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
#: Each browser test module names its folder under test-artifacts/ in ``ARTIFACTS_FOLDER``.
ARTIFACTS_ROOT = Path(__file__).resolve().parents[2] / "test-artifacts"
ARTIFACTS_FOLDER = "browser"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHANNELS = ["Email", "Text message", "Phone call", "Post"]


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must provide it for the browser test", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def artifacts(request: pytest.FixtureRequest) -> Path:
    folder: Path = ARTIFACTS_ROOT / request.module.ARTIFACTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test, traced; the trace lands beside the screenshots."""
    folder = artifacts(request)
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    context.tracing.start(screenshots=True, snapshots=True)
    try:
        yield context.new_page()
    finally:
        context.tracing.stop(path=str(folder / f"{request.node.name}.trace.zip"))
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """Saves a full-page screenshot under the test module's artifacts folder."""
    folder = artifacts(request)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


def masked(email: str) -> str:
    """The contract's masking: first letter of the mailbox and of the domain, the top-level domain kept."""
    local, domain = email.split("@")
    *labels, tld = domain.split(".")
    return f"{local[0]}***@{labels[0][0]}***.{tld}"


def api(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.base}{path}", headers=server.auth, timeout=10, **kwargs)


def check(server: Server, purpose: str, channel: str, to: str) -> dict[str, Any]:
    answer = api(server, "POST", "/v1/checks", json={"purpose": purpose, "channel": channel, "to": to})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def tab_to(page: Page, text: str, limit: int = 20) -> None:
    """Move the focus with the Tab key alone until the focused element's text contains `text`."""
    focused_text = "(e) => (e.textContent || e.value || '')"
    for _ in range(limit):
        page.keyboard.press("Tab")
        if text in page.evaluate(f"({focused_text})(document.activeElement)"):
            return
    pytest.fail(f"{text!r} was not reached with {limit} Tab presses")


def test_a_family_unsubscribes_and_changes_preferences_in_a_real_browser(
    server: Server, page: Page, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    email = f"family.{uuid.uuid4().hex[:10]}@example.org"
    phone = f"07912 {random.randint(0, 999_999):06d}"

    # a. The family registers on a web form, agreeing to marketing emails.
    registration = {
        "person": {"contacts": [{"kind": "email", "value": email}, {"kind": "phone", "value": phone}]},
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
    assert check(server, "marketing", "email", email)["allowed"] is True

    # b. The mailing tool mints the links for one email.
    link_request = {"to": email, "channel": "email", "purpose": "marketing"}
    minted = api(server, "POST", "/v1/unsubscribe-links", json=link_request)
    assert minted.status_code == 201, minted.text
    links = minted.json()
    assert links["url"].startswith(f"{server.base}/unsubscribe/"), links
    assert links["preferences_url"].startswith(f"{server.base}/preferences/"), links
    assert links["headers"] == {
        "List-Unsubscribe": f"<{links['url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }

    # c. The family follows the link: the page names the address only masked, and one button unsubscribes.
    page.goto(links["url"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    body = page.locator("body")
    expect(body).to_contain_text(masked(email))
    assert email not in body.inner_text().lower()
    assert email not in page.content().lower(), "the full address is in the page's HTML"
    button = page.get_by_role("button", name="Unsubscribe", exact=True)
    expect(button).to_be_visible()
    shot(page, "01-unsubscribe-page")

    # Without a mouse: Tab to the button and press Enter.
    tab_to(page, "Unsubscribe")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("You have been unsubscribed")
    manage = page.get_by_role("link", name="Manage all your preferences")
    expect(manage).to_be_visible()
    shot(page, "02-unsubscribed")

    # d. Marketing emails stop; messages the family must get still go.
    stopped = check(server, "marketing", "email", email)
    assert stopped["allowed"] is False, stopped
    assert check(server, "administrative", "email", email)["allowed"] is True

    # e. The preferences page: a section per marketing purpose (news and appeals, renewal requests),
    # in it one group per channel, each a Yes/No choice.
    manage.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    news = page.get_by_role("region", name="News, appeals and invitations")
    expect(news).to_have_count(1)
    for channel in CHANNELS:
        group = news.get_by_role("group", name=channel, exact=True)
        expect(group).to_have_count(1)
        expect(group.get_by_role("radio", name="Yes", exact=True)).to_have_count(1)
        expect(group.get_by_role("radio", name="No", exact=True)).to_have_count(1)
    email_yes = news.get_by_role("group", name="Email", exact=True).get_by_label("Yes", exact=True)
    expect(email_yes).not_to_be_checked()

    news.get_by_role("group", name="Text message", exact=True).get_by_label("Yes", exact=True).check()
    shot(page, "03-preferences-text-message-yes")
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved")
    shot(page, "04-choices-saved")

    # f. Texts are now allowed, and the history says where each choice came from.
    texts = check(server, "marketing", "sms", phone)
    assert (texts["allowed"], texts["reason"]) == (True, "consent_granted"), texts
    people = api(server, "GET", "/v1/people", params={"email": email})
    assert people.status_code == 200, people.text
    person_id = people.json()["items"][0]["id"]
    history = api(server, "GET", f"/v1/people/{person_id}/history")
    assert history.status_code == 200, history.text
    sources = {event["source"] for event in history.json()["items"]}
    assert {"unsubscribe_link", "preference_centre"} <= sources, sources


def test_a_welsh_speaking_family_reads_welsh_and_switches_language(
    server: Server, browser: Browser, shot: Callable[[Page, str], None]
) -> None:
    from playwright.sync_api import expect

    email = f"family.{uuid.uuid4().hex[:10]}@example.org"
    notice = {"purpose": "marketing", "version": 1}
    choice = {
        "purpose": "marketing",
        "channel": "email",
        "decision": "granted",
        "affirmative_action": "ticked_box",
        "pre_ticked": False,
        "notice": notice,
    }
    person = {"contacts": [{"kind": "email", "value": email}]}
    body = {"person": person, "choices": [choice], "source": "web_form"}
    assert api(server, "POST", "/v1/registrations", json=body).status_code == 201
    minted = api(server, "POST", "/v1/unsubscribe-links", json={"to": email, "channel": "email"})
    assert minted.status_code == 201, minted.text
    links = minted.json()

    # A browser set to Welsh opens the link: the page is in Welsh, and says so.
    context = browser.new_context(locale="cy-GB")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(links["url"])
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        expect(page.get_by_role("heading", level=1)).to_have_text("Dad-danysgrifio")
        shot(page, "10-unsubscribe-in-welsh")

        # The switch reads English (in English) and keeps the same link.
        page.get_by_role("link", name="English", exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
        assert page.url.startswith(links["url"]) and page.url.endswith("?lang=en")
        expect(page.get_by_role("link", name="Cymraeg", exact=True)).to_have_attribute("lang", "cy")

        # ...and back to Welsh, where the family unsubscribes.
        page.get_by_role("link", name="Cymraeg", exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        page.get_by_role("button", name="Dad-danysgrifio", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Rydych wedi dad-danysgrifio")
        assert check(server, "marketing", "email", email)["allowed"] is False

        # The preferences page it links to stays in Welsh.
        page.get_by_role("link", name="Rheoli eich holl ddewisiadau").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Eich dewisiadau")
        news = page.get_by_role("region", name="News, appeals and invitations")
        expect(news.get_by_role("group", name="Neges destun", exact=True)).to_have_count(1)
        expect(page.get_by_role("button", name="Cadw fy newisiadau")).to_be_visible()
        shot(page, "11-preferences-in-welsh")
    finally:
        context.close()
