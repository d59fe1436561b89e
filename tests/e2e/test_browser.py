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
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

from tests.e2e.conftest import Server, running

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
#: The organisation every family page names (CONSENT_ORG_*).
ORGANISATION = {
    "CONSENT_ORG_NAME": "Home-Start Riverside",
    "CONSENT_ORG_EMAIL": "privacy@homestart-riverside.example",
    "CONSENT_ORG_PHONE": "01632 960 001",
    "CONSENT_ORG_ADDRESS": "1 Mill Lane, Riverside, RS1 1AA",
    "CONSENT_ORG_POLICY_URL": "https://homestart-riverside.example/privacy",
}


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service as an organisation that has named itself, so every page has something to show."""
    with running(tmp_path_factory.mktemp("served"), **ORGANISATION) as served:
        yield served


def artifacts(request: pytest.FixtureRequest) -> Path:
    folder: Path = ARTIFACTS_ROOT / request.module.ARTIFACTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def traced_page(browser: Browser, request: pytest.FixtureRequest, **options: Any) -> Iterator[Page]:
    """A fresh browser context, traced; the trace lands beside the screenshots."""
    folder = artifacts(request)
    context = browser.new_context(locale="en-GB", **options)
    context.set_default_timeout(10_000)
    context.tracing.start(screenshots=True, snapshots=True)
    try:
        yield context.new_page()
    finally:
        context.tracing.stop(path=str(folder / f"{request.node.name}.trace.zip"))
        context.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context per test, traced; the trace lands beside the screenshots."""
    with traced_page(browser, request) as fresh:
        yield fresh


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

    # e. The preferences page: one group per channel for marketing, each a Yes/No choice.
    manage.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    for channel in CHANNELS:
        group = page.get_by_role("group", name=channel, exact=True)
        expect(group).to_have_count(1)
        expect(group.get_by_role("radio", name="Yes", exact=True)).to_have_count(1)
        expect(group.get_by_role("radio", name="No", exact=True)).to_have_count(1)
    email_yes = page.get_by_role("group", name="Email", exact=True).get_by_label("Yes", exact=True)
    expect(email_yes).not_to_be_checked()

    page.get_by_role("group", name="Text message", exact=True).get_by_label("Yes", exact=True).check()
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


@pytest.fixture
def no_script(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page with JavaScript off: the families' forms must work without it."""
    with traced_page(browser, request, java_script_enabled=False) as fresh:
        yield fresh


def registered(server: Server, email: str, phone: str, choices: list[dict[str, Any]], **person: Any) -> str:
    contacts = [{"kind": "email", "value": email}, {"kind": "phone", "value": phone}]
    body = {"person": {"contacts": contacts, **person}, "choices": choices, "source": "web_form"}
    answer = api(server, "POST", "/v1/registrations", json=body)
    assert answer.status_code == 201, answer.text
    person_id: str = answer.json()["person_id"]
    return person_id


def granted(purpose: str, channel: str | None) -> dict[str, Any]:
    notice = {"purpose": purpose, "version": 1}
    return {"purpose": purpose, "channel": channel, "decision": "granted", "notice": notice}


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
