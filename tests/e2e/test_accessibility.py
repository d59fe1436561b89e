"""Every page a family or a staff member can reach, audited for WCAG 2.2 AA with axe-core in the real
browser (issue 16): 0 violations, or the test lists each one's rule, impact and the elements it found.

axe-core is the copy bundled with `axe-playwright-python`, run in Debian's Chromium against the service
started as a process (as tests/e2e/test_browser.py does, with its fixtures; skipped or failed as it is
when Chromium or Playwright is missing). Each page is reached the way its reader reaches it, with real
data: a minted link, a signed-in staff session, a person with contact points, choices, a suppression and
a restriction. Screenshots of every audited page go to test-artifacts/accessibility/.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Server, postgres_and_redis, run_aside, running
from tests.e2e.test_browser import api, browser, page, shot
from tests.e2e.test_family_browser import ORGANISATION, fresh_family, granted, registered
from tests.e2e.test_staff_browser import PASSWORD, make_staff_account

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["browser", "page", "postgres_and_redis", "shot"]

ARTIFACTS_FOLDER = "accessibility"
#: WCAG 2.0, 2.1 and 2.2, levels A and AA: what the public sector accessibility regulations ask for.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@dataclass(frozen=True)
class World:
    """What the pages show: a family with links, and a staff member and the person they look up."""

    server: Server
    unsubscribe_url: str
    preferences_url: str
    username: str
    person_id: str
    family_name: str
    email: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service as an organisation that has named itself, so every family page has its footer."""
    with running(tmp_path_factory.mktemp("served"), **ORGANISATION) as served:
        yield served


def minted(server: Server, email: str) -> dict[str, str]:
    link = {"to": email, "channel": "email", "purpose": "marketing"}
    answer = api(server, "POST", "/v1/unsubscribe-links", json=link)
    assert answer.status_code == 201, answer.text
    links: dict[str, str] = answer.json()
    return links


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    email, phone = fresh_family()
    family_name = f"Sam Audited {uuid.uuid4().hex[:4]}"
    choices = [granted("marketing", "email"), granted("marketing", "sms"), granted("testimonial", None)]
    person_id = registered(server, email, phone, choices, display_name=family_name)
    bounce = {"to": phone, "channel": "sms", "reason": "hard_bounce", "note": "number not in service"}
    assert api(server, "POST", "/v1/suppressions", json=bounce).status_code == 201
    restriction = {"channel": "sms", "reason": "Letters are read by someone who must not know"}
    restricted = api(server, "POST", f"/v1/people/{person_id}/restrictions", json=restriction)
    assert restricted.status_code == 201, restricted.text
    links = minted(server, email)
    username = f"ada.{uuid.uuid4().hex[:6]}"
    make_staff_account(server, username, "Ada Audit")
    return World(
        server=server,
        unsubscribe_url=links["url"],
        preferences_url=links["preferences_url"],
        username=username,
        person_id=person_id,
        family_name=family_name,
        email=email,
    )


def audit(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 AA violations on the page as it stands, one line per rule broken."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in violations
    ]


def send(page: Page, fields: dict[str, str], button: str) -> None:
    """Fills in the form's fields by their labels and presses its button."""
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name=button).click()


def sign_in(page: Page, world: World) -> None:
    page.goto(f"{world.server.base}/staff/sign-in")
    send(page, {"Username": world.username, "Password": PASSWORD}, "Sign in")
    page.get_by_role("heading", name="Find a person").wait_for()


def unsubscribe(page: Page, world: World) -> None:
    page.goto(world.unsubscribe_url)


def unsubscribed(page: Page, world: World) -> None:
    page.goto(world.unsubscribe_url)
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", level=1).wait_for()


def preferences(page: Page, world: World) -> None:
    page.goto(world.preferences_url)


def preferences_saved(page: Page, world: World) -> None:
    page.goto(world.preferences_url)
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_role("status").wait_for()


def preferences_refused(page: Page, world: World) -> None:
    """A form that did not come from the page (a notice version not a number): the error shown."""
    page.goto(world.preferences_url)
    page.locator("input[name^='notice:']").first.evaluate("(input) => { input.value = 'x'; }")
    page.get_by_role("button", name="Save my choices").click()
    page.locator(".error").first.wait_for()


def all_marketing_stopped(page: Page, world: World) -> None:
    page.goto(world.preferences_url)
    page.get_by_role("button", name="Stop all marketing").click()
    page.get_by_role("status").wait_for()


def invalid_link(page: Page, world: World) -> None:
    page.goto(f"{world.server.base}/preferences/v1.not.a.link")


def accessibility_statement(page: Page, world: World) -> None:
    page.goto(world.preferences_url)
    page.get_by_role("contentinfo").get_by_role("link", name="Accessibility statement").click()
    main = page.get_by_role("main")
    for heading in ("What is not accessible", "Reporting accessibility problems with these pages"):
        main.get_by_role("heading", name=heading).wait_for()
    main.get_by_role("link", name=ORGANISATION["CONSENT_ORG_EMAIL"]).wait_for()
    main.get_by_role("link", name="Equality Advisory and Support Service (EASS)").wait_for()


def in_welsh(page: Page, world: World) -> None:
    """The preferences page switched to Welsh on the page, then its statement: `lang` says cy."""
    page.goto(world.preferences_url)
    page.get_by_role("link", name="Cymraeg").click()
    page.get_by_role("contentinfo").get_by_role("link", name="Datganiad hygyrchedd").click()
    page.get_by_role("heading", name="Datganiad hygyrchedd", level=1).wait_for()
    page.get_by_text("Hyd y gwyddom, mae'r tudalennau hyn yn cydymffurfio'n llawn").wait_for()
    assert page.locator("html").get_attribute("lang") == "cy"


def staff_sign_in(page: Page, world: World) -> None:
    page.goto(f"{world.server.base}/staff/sign-in")


def staff_sign_in_refused(page: Page, world: World) -> None:
    page.goto(f"{world.server.base}/staff/sign-in")
    send(page, {"Username": world.username, "Password": "not the password"}, "Sign in")
    page.get_by_role("alert").wait_for()


def staff_search(page: Page, world: World) -> None:
    sign_in(page, world)


def staff_search_results(page: Page, world: World) -> None:
    sign_in(page, world)
    page.get_by_label("Email, phone, reference, name or postcode").fill(world.email)
    page.keyboard.press("Enter")
    page.get_by_role("link", name=world.family_name).wait_for()


def staff_search_refused(page: Page, world: World) -> None:
    sign_in(page, world)
    page.goto(f"{world.server.base}/staff?q={'x' * 400}")
    page.get_by_role("alert").wait_for()


def staff_nobody_found(page: Page, world: World) -> None:
    sign_in(page, world)
    page.get_by_label("Email, phone, reference, name or postcode").fill("nobody.here@example.org")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Nobody found").wait_for()


def staff_suppressed(page: Page, world: World) -> None:
    staff_nobody_found(page, world)
    page.get_by_label("How they asked").select_option("letter")
    page.get_by_role("button", name="Suppress this address").click()
    page.get_by_role("status").wait_for()


def staff_person(page: Page, world: World) -> None:
    sign_in(page, world)
    page.goto(f"{world.server.base}/staff/people/{world.person_id}")
    page.get_by_role("heading", name=world.family_name).wait_for()


def staff_person_saved(page: Page, world: World) -> None:
    staff_person(page, world)
    page.get_by_label("How did the request come in").select_option("phone_call")
    page.get_by_role("button", name="Record the changes").click()
    page.get_by_role("heading", name=world.family_name).wait_for()


def staff_new_person(page: Page, world: World) -> None:
    sign_in(page, world)
    page.get_by_role("link", name="Add a person who is not on record").click()
    page.get_by_role("heading", name="Add a person").wait_for()


def staff_new_person_refused(page: Page, world: World) -> None:
    staff_new_person(page, world)
    send(page, {"Email address": "not an address"}, "Add the person")
    page.get_by_role("alert").wait_for()


def staff_not_found(page: Page, world: World) -> None:
    sign_in(page, world)
    page.goto(f"{world.server.base}/staff/people/{uuid.uuid4()}")


def staff_signed_out(page: Page, world: World) -> None:
    """A form sent after the session ended elsewhere (signed out in another tab)."""
    staff_person(page, world)
    other = page.context.new_page()
    other.goto(f"{world.server.base}/staff")
    other.get_by_role("button", name="Sign out").click()
    # Closed only once the sign-out has landed: closing a page mid-navigation can wait for ever.
    other.get_by_role("heading", name="Staff sign in", level=1).wait_for()
    other.close()
    page.get_by_role("button", name="Record the changes").click()
    page.get_by_role("heading", level=1).wait_for()


def staff_accounts(page: Page, world: World) -> None:
    """The staff member made by the command is a lead: the accounts page is theirs."""
    sign_in(page, world)
    page.get_by_role("link", name="Staff accounts").click()
    page.get_by_role("heading", name="Staff accounts", level=1).wait_for()


def make_plain_account(page: Page, world: World) -> tuple[str, str]:
    """A plain staff account made on the accounts page; its name and the password shown once."""
    staff_accounts(page, world)
    newcomer = f"sam.{uuid.uuid4().hex[:6]}"
    making = page.get_by_role("group", name="Make an account")
    making.get_by_label("Username").fill(newcomer)
    making.get_by_label("Name shown on the records they make").fill("Sam Audited")
    making.get_by_label("Role").select_option("staff")
    page.get_by_role("button", name="Make the account").click()
    page.get_by_role("status").wait_for()
    return newcomer, page.locator("#one-time-password code").inner_text()


def staff_account_made(page: Page, world: World) -> None:
    make_plain_account(page, world)


def staff_account_refused(page: Page, world: World) -> None:
    staff_accounts(page, world)
    page.locator("form input[required]").evaluate_all("(all) => all.forEach(i => i.required = false)")
    page.get_by_role("button", name="Make the account").click()
    page.get_by_role("alert").wait_for()


def staff_forbidden(page: Page, world: World) -> None:
    """A plain staff member opening what only a lead may."""
    newcomer, password = make_plain_account(page, world)
    page.get_by_role("button", name="Sign out").click()
    send(page, {"Username": newcomer, "Password": password}, "Sign in")
    page.get_by_role("heading", name="Find a person").wait_for()
    page.goto(f"{world.server.base}/staff/accounts")
    page.get_by_role("heading", name="Only a lead can do this").wait_for()


def staff_audit_trail(page: Page, world: World) -> None:
    staff_accounts(page, world)
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_role("table", name="Audit trail, newest first").wait_for()


def erasing(page: Page, world: World) -> None:
    """A person of their own (an erasure cannot be undone) on their page, the reason given."""
    email, phone = fresh_family()
    person_id = registered(world.server, email, phone, [granted("marketing", "email")])
    sign_in(page, world)
    page.goto(f"{world.server.base}/staff/people/{person_id}")
    page.get_by_label("Reason", exact=True).last.fill("Asked to be forgotten on the phone")


def staff_erased(page: Page, world: World) -> None:
    erasing(page, world)
    page.get_by_label("I understand this cannot be undone").check()
    page.get_by_role("button", name="Erase this person").click()
    page.get_by_role("heading", level=1).wait_for()


def staff_erasure_refused(page: Page, world: World) -> None:
    """The box left unticked (the browser's own check switched off, as an older browser would)."""
    erasing(page, world)
    page.get_by_label("I understand this cannot be undone").evaluate("(box) => { box.required = false; }")
    page.get_by_role("button", name="Erase this person").click()
    page.get_by_role("alert").wait_for()


PAGES: dict[str, Callable[[Page, World], None]] = {
    "unsubscribe": unsubscribe,
    "unsubscribed": unsubscribed,
    "preferences": preferences,
    "preferences saved": preferences_saved,
    "preferences refused": preferences_refused,
    "all marketing stopped": all_marketing_stopped,
    "invalid link": invalid_link,
    "accessibility statement": accessibility_statement,
    "accessibility statement in Welsh": in_welsh,
    "staff sign in": staff_sign_in,
    "staff sign in refused": staff_sign_in_refused,
    "staff search": staff_search,
    "staff search results": staff_search_results,
    "staff search refused": staff_search_refused,
    "staff nobody found": staff_nobody_found,
    "staff suppressed": staff_suppressed,
    "staff person": staff_person,
    "staff person saved": staff_person_saved,
    "staff new person": staff_new_person,
    "staff new person refused": staff_new_person_refused,
    "staff not found": staff_not_found,
    "staff signed out": staff_signed_out,
    "staff accounts": staff_accounts,
    "staff account made": staff_account_made,
    "staff account refused": staff_account_refused,
    "staff forbidden": staff_forbidden,
    "staff audit trail": staff_audit_trail,
    "staff erased": staff_erased,
    "staff erasure refused": staff_erasure_refused,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_wcag_22_aa_violations(
    name: str, world: World, page: Page, shot: Callable[[Page, str], None]
) -> None:
    PAGES[name](page, world)
    shot(page, name.replace(" ", "-"))
    violations = audit(page)
    assert not violations, f"{name} ({page.url}):\n" + "\n".join(violations)
    # Reflow (WCAG 1.4.10), which axe cannot judge: at 320 CSS pixels wide (a 1280-pixel screen zoomed
    # to 400%) nothing needs scrolling sideways but a data table in its own scrolling box.
    page.set_viewport_size({"width": 320, "height": 640})
    wide = page.evaluate("document.documentElement.scrollWidth")
    shot(page, f"{name.replace(' ', '-')}-320px")
    assert wide <= 320, f"{name} is {wide} CSS pixels wide at a 320-pixel viewport"


def test_the_statement_is_a_family_page_over_http(server: Server) -> None:
    """Its headers are the families' pages' own, and a Welsh browser gets it in Welsh."""
    english = httpx.get(f"{server.base}/accessibility", timeout=10)
    assert english.status_code == 200
    assert english.headers["content-security-policy"].startswith("default-src 'none'")
    assert english.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in english.text and ORGANISATION["CONSENT_ORG_PHONE"] in english.text
    in_welsh = {"Accept-Language": "cy-GB,cy;q=0.9"}
    welsh = httpx.get(f"{server.base}/accessibility", headers=in_welsh, timeout=10)
    assert '<html lang="cy">' in welsh.text and "<h1>Datganiad hygyrchedd</h1>" in welsh.text


def test_the_audit_finds_what_it_is_for(page: Page) -> None:
    """A page with an unlabelled field, an image without text and no language fails the audit."""
    page.set_content('<title>Bad</title><main><img src="x.png"><input type="text"></main>')
    found = "\n".join(audit(page))
    for rule in ("html-has-lang (serious)", "image-alt (critical)", "label (critical)"):
        assert rule in found, found


def test_the_unavailable_page_has_no_wcag_22_aa_violations(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_and_redis: dict[str, str],
    page: Page,
    shot: Callable[[Page, str], None],
) -> None:
    """The page a family sees while the database is away: PostgreSQL stops taking connections."""
    with running(tmp_path_factory.mktemp("served"), **ORGANISATION, **postgres_and_redis) as server:
        email, phone = fresh_family()
        registered(server, email, phone, [granted("marketing", "email")])
        preferences_url = minted(server, email)["preferences_url"]
        name = postgres_and_redis["CONSENT_DATABASE_URL"].rsplit("/", 1)[1]

        async def refuse_connections() -> None:
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=5)
            try:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
                )
            finally:
                await admin.close()

        run_aside(refuse_connections())
        answer = page.goto(preferences_url)
        assert answer is not None and answer.status == 503, answer and answer.status
        shot(page, "unavailable")
        violations = audit(page)
        assert not violations, "unavailable:\n" + "\n".join(violations)
