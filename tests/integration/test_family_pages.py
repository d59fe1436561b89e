"""The families' pages, as a family would use them (issue 16): who runs them, the right to object,
stopping all marketing in one step, every choice changeable, an address we do not hold, a household's
shared address. Over HTTP, on both backends."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.config import Organisation, Settings
from consent_service.domain.notices import RIGHT_TO_OBJECT
from consent_service.domain.suppressions import OBJECTION_NOTE
from consent_service.services.context import Context
from tests.integration.conftest import Api, count, fresh_email, fresh_mobile
from tests.integration.test_links import csrf_token, family, links_for, path_of
from tests.integration.test_no_spool import unspooled  # noqa: F401 (a fixture)
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process

ORGANISATION = Organisation(
    name="Home-Start Riverside",
    contact="the Data Protection Officer",
    email="privacy@homestart-riverside.example",
    phone="01632 960 001",
    address="1 Mill Lane, Riverside, RS1 1AA",
    policy_url="https://homestart-riverside.example/privacy",
)


@pytest.fixture
async def named(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The suite's app as an organisation that has set every ``CONSENT_ORG_*``, on the same database
    and keys, so the suite's links open here."""
    settings = replace(api.settings, organisation=ORGANISATION)
    context = build_context(settings)
    await context.catalogue.reload()
    app = create_app(settings, context)
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://testserver") as client:
        yield client
    await shutdown(app, context)


@pytest.fixture
async def database_away(
    unspooled: tuple[Settings, Context],  # noqa: F811 (the fixture imported above)
) -> AsyncIterator[httpx.AsyncClient]:
    """The same organisation on a worker that cannot reach its database (no spool to stand in)."""
    settings, context = unspooled
    app = create_app(replace(settings, organisation=ORGANISATION), context)
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://testserver") as client:
        yield client


def footer(html: str) -> str:
    found = re.search(r'<footer class="organisation">(.*?)</footer>', html, re.DOTALL)
    assert found is not None, "the page has the organisation's footer"
    return found.group(1)


def right_to_object(html: str) -> str:
    found = re.search(r'<section aria-labelledby="right-to-object">(.*?)</section>', html, re.DOTALL)
    assert found is not None, "the right to object has a section of its own"
    return found.group(1)


async def test_every_family_page_names_the_organisation_and_states_the_right_to_object(
    api: Api, named: httpx.AsyncClient, database_away: httpx.AsyncClient
) -> None:
    _, _, _, minted = await family(api)
    stranger = await links_for(api, fresh_email())
    pages = {
        "unsubscribe": await named.get(path_of(minted["url"])),
        "preferences": await named.get(path_of(minted["preferences_url"])),
        "preferences, address not held": await named.get(path_of(stranger["preferences_url"])),
        "confirmation": await named.post(path_of(minted["url"])),
        "invalid link": await named.get("/preferences/v1.nope.nope.nope"),
        "unavailable": await database_away.get(path_of(minted["preferences_url"])),
    }
    assert pages["unavailable"].status_code == 503 and pages["invalid link"].status_code == 404
    for name, response in pages.items():
        html = response.text
        about = footer(html)
        assert "<strong>Home-Start Riverside</strong>" in about, name
        assert "(the Data Protection Officer)" in about, name
        assert 'href="mailto:privacy@homestart-riverside.example"' in about, name
        assert 'href="tel:01632960001">01632 960 001</a>' in about, name
        assert "1 Mill Lane, Riverside, RS1 1AA" in about, name
        assert f'<a href="{ORGANISATION.policy_url}">Read our privacy notice</a>' in about, name
        section = right_to_object(html)
        assert '<h2 id="right-to-object">Your right to object</h2>' in section, name
        assert RIGHT_TO_OBJECT in section and "<form" not in section, name
        assert html.count(RIGHT_TO_OBJECT) == 1, name


async def test_stop_all_marketing_objects_everywhere_and_keeps_administrative_messages(
    api: Api, database: AsyncEngine
) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    testimonial = {**grant("email", "testimonial"), "channel": None}
    registered = await register(api, email, mobile, [grant("email"), grant("sms"), testimonial])
    person = registered["person_id"]
    minted = await links_for(api, email)
    page = await api.client.get(path_of(minted["preferences_url"]))
    stop_all = re.search(r'<section aria-labelledby="stop-all">(.*?)</section>', page.text, re.DOTALL)
    assert stop_all is not None and "Messages about your appointments" in stop_all.group(1)
    assert '<button type="submit">Stop all marketing</button>' in stop_all.group(1)

    form = {"_csrf_token": csrf_token(page.text), "stop_all": "yes"}
    stopped = await api.client.post(path_of(minted["preferences_url"]), data=form)
    assert stopped.status_code == 200, stopped.text
    assert "All marketing is stopped" in stopped.text
    assert "Messages about your appointments and our services will still reach you." in stopped.text

    for channel, to in (("email", email), ("sms", mobile), ("phone", mobile)):
        answer = await api.check(channel, to)
        assert (answer["allowed"], answer["reason"]) == (False, "suppressed"), channel
        assert answer["evidence"]["suppression_reason"] == "objected", channel
        administrative = await api.check(channel, to, purpose="administrative")
        assert (administrative["allowed"], administrative["reason"]) == (True, "administrative"), channel
    by_post = await api.check("post", purpose="marketing", person_id=person)
    assert (by_post["allowed"], by_post["reason"]) == (False, "objected")
    story = await api.check(None, purpose="testimonial", person_id=person)
    assert (story["allowed"], story["reason"]) == (False, "consent_withdrawn")
    assert (await api.check("post", purpose="administrative", person_id=person))["allowed"] is True

    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    # Every marketing purpose (the defaults here; an organisation's own would be among them too).
    objections = [
        e
        for e in history
        if e["source"] == "preference_centre" and e["purpose"] in ("marketing", "testimonial")
    ]
    assert sorted((e["purpose"], e["channel"] or "-") for e in objections) == [
        ("marketing", "email"),
        ("marketing", "phone"),
        ("marketing", "post"),
        ("marketing", "sms"),
        ("testimonial", "-"),
    ]
    assert {(e["decision"], e["evidence"]["note"]) for e in objections} == {("withdrawn", OBJECTION_NOTE)}

    events = await count(database, "consent_events")
    again = await api.client.post(path_of(minted["preferences_url"]), data=form)
    assert again.status_code == 200 and await count(database, "consent_events") == events


async def test_stop_all_needs_its_csrf_token_and_opening_the_page_changes_nothing(
    api: Api, database: AsyncEngine, fresh_client: httpx.AsyncClient
) -> None:
    email, _, _, minted = await family(api)
    before = (await count(database, "consent_events"), await count(database, "suppressions"))
    await fresh_client.get(path_of(minted["preferences_url"]))
    forged = await fresh_client.post(path_of(minted["preferences_url"]), data={"stop_all": "yes"})
    assert forged.status_code == 403
    assert (await count(database, "consent_events"), await count(database, "suppressions")) == before
    assert (await api.check("email", email))["allowed"] is True


async def test_the_testimonial_can_be_changed_on_the_preferences_page(api: Api) -> None:
    email = fresh_email()
    testimonial = {**grant("email", "testimonial"), "channel": None}
    person = (await register(api, email, None, [testimonial]))["person_id"]
    minted = await links_for(api, email)
    url = path_of(minted["preferences_url"])
    html = (await api.client.get(url)).text
    assert 'name="choice:testimonial" value="yes" checked' in html
    assert "<legend>Your permission</legend>" in html

    form = {"_csrf_token": csrf_token(html), "choice:testimonial": "no"}
    saved = await api.client.post(url, data=form)
    assert saved.status_code == 200, saved.text
    assert 'name="choice:testimonial" value="no" checked' in saved.text
    story = await api.check(None, purpose="testimonial", person_id=person)
    assert (story["allowed"], story["reason"]) == (False, "consent_withdrawn")

    form = {"_csrf_token": csrf_token(saved.text), "choice:testimonial": "yes", "notice:testimonial": "1"}
    assert (await api.client.post(url, data=form)).status_code == 200
    story = await api.check(None, purpose="testimonial", person_id=person)
    assert (story["allowed"], story["reason"]) == (True, "consent_granted")
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    stated = [(e["decision"], e["source"], e["evidence"]) for e in history if e["purpose"] == "testimonial"]
    # The page records the family's own act: "yes" chosen where "no" stood chosen, never pre-ticked.
    assert [
        (decision, source, evidence.get("affirmative_action")) for decision, source, evidence in stated
    ] == [
        ("granted", "web_form", "ticked_box"),
        ("withdrawn", "preference_centre", None),
        ("granted", "preference_centre", "chose_yes"),
    ]
    assert stated[-1][2]["pre_ticked"] is False


@pytest.mark.parametrize(("channel", "stopped"), [("email", ["email"]), ("sms", ["sms", "phone"])])
async def test_an_address_we_do_not_hold_can_still_object(api: Api, channel: str, stopped: list[str]) -> None:
    to = fresh_email() if channel == "email" else fresh_mobile()
    minted = await links_for(api, to, channel=channel)
    url = path_of(minted["preferences_url"])
    html = (await api.client.get(url)).text
    assert "We do not hold any preferences for this address." in html
    assert (await api.check(stopped[0], to))["reason"] == "no_consent"

    objected = await api.client.post(url, data={"_csrf_token": csrf_token(html), "stop_all": "yes"})
    assert objected.status_code == 200, objected.text
    assert "All marketing is stopped" in objected.text
    for on in stopped:
        answer = await api.check(on, to)
        assert (answer["allowed"], answer["reason"]) == (False, "suppressed"), on
        assert answer["evidence"]["suppression_reason"] == "objected"
        assert (await api.check(on, to, purpose="administrative"))["allowed"] is True
        entries = (await api.get("/v1/suppressions/lookup", to=to, channel=on)).json()["items"]
        # Its code says it all (COMPLIANCE row 15): an objection from the preferences page, no note.
        assert [
            (e["channel"], e["reason"], e["purpose"], e["source"], e["how"], e["note"]) for e in entries
        ] == [(on, "objected", None, "preference_centre", None, None)]

    # Their own later grant, in their own words, still counts: the objection was per channel.
    contacts = [{"kind": "email" if channel == "email" else "phone", "value": to}]
    body = {"person": {"contacts": contacts}, "choices": [grant(stopped[0])], "source": "web_form"}
    assert (await api.post("/v1/registrations", body, scope="forms")).status_code == 201
    assert (await api.check(stopped[0], to))["reason"] == "consent_granted"


async def household(api: Api) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
    """Two people on one email address, each with a mobile of their own."""
    shared = fresh_email()
    people = []
    for name in ("Sam Taylor", "Alex Morgan"):
        mobile = fresh_mobile()
        registered = await register(api, shared, mobile, [grant("email"), grant("sms")], display_name=name)
        people.append((registered["person_id"], mobile))
    return shared, people, await links_for(api, shared)


async def test_a_shared_address_says_whose_choices_it_shows_and_changes_only_its_own(
    api: Api, database: AsyncEngine
) -> None:
    shared, people, minted = await household(api)
    url = path_of(minted["preferences_url"])
    html = (await api.client.get(url)).text
    whose = re.search(r'<p id="whose">(.*?)</p>', html, re.DOTALL)
    assert whose is not None
    assert "shared by 2 people" in whose.group(1)
    assert "Sam" in whose.group(1) and "Alex" in whose.group(1)
    assert "Taylor" not in html and "Morgan" not in html, "first names only"
    offered = set(re.findall(r'name="(choice:[^"]+)" value="yes"', html))
    assert "choice:marketing:email" in offered
    assert {name.count(":") == 2 and name.endswith(":email") for name in offered} == {True}

    events = await count(database, "consent_events")
    other = {"_csrf_token": csrf_token(html), "choice:marketing:sms": "no"}
    refused = await api.client.post(url, data=other)
    assert refused.status_code == 422 and await count(database, "consent_events") == events

    stopped = await api.client.post(url, data={"_csrf_token": csrf_token(html), "stop_all": "yes"})
    assert stopped.status_code == 200 and "All marketing is stopped" in stopped.text
    answer = await api.check("email", shared)
    assert (answer["reason"], answer["evidence"]["suppression_reason"]) == ("suppressed", "objected")
    for person, mobile in people:
        assert (await api.check("sms", mobile))["reason"] == "consent_granted"
        history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
        from_page = {(e["channel"], e["decision"]) for e in history if e["source"] == "preference_centre"}
        assert from_page == {("email", "withdrawn")}


async def test_a_shared_address_counts_the_people_it_has_no_name_for(api: Api) -> None:
    shared = fresh_email()
    await register(api, shared, None, [grant("email")], display_name="  Sam   Taylor ")
    await register(api, shared, None, [grant("email")])
    html = (await api.client.get(path_of((await links_for(api, shared))["preferences_url"]))).text
    whose = re.search(r'<p id="whose">(.*?)</p>', html, re.DOTALL)
    assert whose is not None and "shared by 2 people: Sam and 1 more." in whose.group(1)


async def test_stopping_all_marketing_also_covers_a_purpose_added_later(api: Api) -> None:
    """Art 21(3): after an objection the details are no longer used for direct marketing, including
    for a purpose the organisation adds afterwards on legitimate interests (post)."""
    email, home = fresh_email(), {"lines": [f"{secrets.randbelow(999)} Mill Lane"], "postcode": "LS1 4AP"}
    contacts = [{"kind": "email", "value": email}, {"kind": "postal", "value": home}]
    await register(api, email, None, [grant("email")], contacts=contacts)
    minted = await links_for(api, email)
    html = (await api.client.get(path_of(minted["preferences_url"]))).text
    form = {"_csrf_token": csrf_token(html), "stop_all": "yes"}
    assert (await api.client.post(path_of(minted["preferences_url"]), data=form)).status_code == 200

    code = f"appeals_{secrets.token_hex(4)}"
    bases = {"post": "legitimate_interests"}
    made = await api.post(
        "/v1/purposes", {"code": code, "category": "marketing", "bases": bases}, scope="admin"
    )
    assert made.status_code == 201, made.text
    answer = await api.check("post", home, purpose=code)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    assert answer["evidence"]["suppression_reason"] == "objected"
    elsewhere = {"lines": [f"{secrets.randbelow(999)} Other Road"], "postcode": "LS1 4AP"}
    assert (await api.check("post", elsewhere, purpose=code))["reason"] == "legitimate_interests"
