"""One-click unsubscribe (RFC 8058) and the preferences page, over the app's HTTP interface."""

from __future__ import annotations

import asyncio
import re
import secrets
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.config import Limits
from consent_service.domain.channels import Channel
from consent_service.domain.tokens import LinkClaim, LinkKind, LinkSigner
from tests.integration.conftest import Api, count, fresh_email, fresh_mobile
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


async def links_for(api: Api, to: Any, channel: str = "email", purpose: str = "marketing") -> dict[str, Any]:
    response = await api.post(
        "/v1/unsubscribe-links", {"to": to, "channel": channel, "purpose": purpose}, scope="checks"
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


async def family(api: Api) -> tuple[str, str, str, dict[str, Any]]:
    email, mobile = fresh_email(), fresh_mobile()
    person = (await register(api, email, mobile, [grant("email"), grant("sms")]))["person_id"]
    return email, mobile, person, await links_for(api, email)


async def test_minting_gives_the_rfc_8058_headers_and_no_contact_details(api: Api) -> None:
    email, _, _, minted = await family(api)
    assert minted["headers"] == {
        "List-Unsubscribe": f"<{minted['url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert minted["url"].startswith("http://testserver/unsubscribe/v1.")
    assert minted["preferences_url"].startswith("http://testserver/preferences/v1.")
    for secret_part in (email, email.split("@")[0]):
        assert secret_part not in minted["url"] and secret_part not in minted["preferences_url"]


RFC_8058_POST = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


async def test_an_allowed_marketing_email_answer_can_carry_its_unsubscribe(api: Api) -> None:
    """PECR reg 22(3)(c), 23: the check that allows a marketing email can hand over its opt-out too."""
    email, _, _, _ = await family(api)
    plain = await api.check("email", email)
    assert plain["allowed"] is True and "links" not in plain

    answer = await api.check("email", email, links=True)
    assert answer["allowed"] is True
    links = answer["links"]
    assert links["url"].startswith("http://testserver/unsubscribe/v1.")
    assert links["headers"] == {"List-Unsubscribe": f"<{links['url']}>", **RFC_8058_POST}
    assert email.split("@")[0] not in str(links)
    for nothing_to_stop in (
        await api.check("email", fresh_email(), links=True),
        await api.check("email", email, purpose="administrative", links=True),
    ):
        assert "links" not in nothing_to_stop

    assert (await api.client.post(path_of(links["url"]))).status_code == 200
    stopped = await api.check("email", email, links=True)
    assert (stopped["allowed"], stopped["reason"]) == (False, "suppressed") and "links" not in stopped


async def test_a_bulk_check_can_carry_each_allowed_recipients_unsubscribe(api: Api) -> None:
    email, _, _, _ = await family(api)
    body = {"purpose": "marketing", "channel": "email", "to": [email, fresh_email(), "nope"], "links": True}
    response = await api.post("/v1/checks/bulk", body, scope="checks")
    assert response.status_code == 200, response.text
    allowed, unknown, invalid = response.json()["results"]
    assert (allowed["allowed"], unknown["reason"], invalid["reason"]) == (
        True,
        "no_consent",
        "contact_invalid",
    )
    assert "links" not in unknown and "links" not in invalid
    assert allowed["links"]["headers"] == {
        "List-Unsubscribe": f"<{allowed['links']['url']}>",
        **RFC_8058_POST,
    }

    assert (await api.client.post(path_of(allowed["links"]["url"]))).status_code == 200
    assert (await api.check("email", email))["reason"] == "suppressed"


async def test_opening_the_link_changes_nothing(api: Api, database: AsyncEngine) -> None:
    email, _, _, minted = await family(api)
    before = (await count(database, "consent_events"), await count(database, "suppressions"))
    for _ in range(3):
        page = await api.client.get(path_of(minted["url"]))
        assert page.status_code == 200
    assert (await count(database, "consent_events"), await count(database, "suppressions")) == before
    assert (await api.check("email", email))["allowed"] is True
    assert email not in page.text
    assert f"{email[0]}***@e***.org" in page.text
    assert "<button" in page.text and "Unsubscribe" in page.text


ONE_CLICK_BODIES: dict[str, dict[str, Any]] = {
    "urlencoded": {
        "content": b"List-Unsubscribe=One-Click",
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    },
    "multipart": {"files": {"List-Unsubscribe": (None, "One-Click")}},
    "empty": {"content": b""},
}


@pytest.mark.parametrize("body", ONE_CLICK_BODIES.values(), ids=ONE_CLICK_BODIES.keys())
async def test_one_click_unsubscribes_once_without_redirect(
    api: Api, database: AsyncEngine, body: dict[str, Any]
) -> None:
    email, mobile, person, minted = await family(api)
    events = await count(database, "consent_events")

    for _ in range(3):
        response = await api.client.post(path_of(minted["url"]), **body)
        assert response.status_code == 200
        assert "location" not in response.headers
        assert "set-cookie" not in response.headers
    assert await count(database, "consent_events") == events + 1

    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    assert answer["evidence"]["suppression_reason"] == "unsubscribed"
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True
    assert (await api.check("sms", mobile))["allowed"] is True
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    assert history[-1]["source"] == "unsubscribe_link" and history[-1]["decision"] == "withdrawn"


async def test_an_address_nobody_registered_is_still_suppressed(api: Api) -> None:
    stranger = fresh_email()
    minted = await links_for(api, stranger)
    assert (
        await api.client.post(path_of(minted["url"]), content=b"List-Unsubscribe=One-Click")
    ).status_code == 200
    answer = await api.check("email", stranger)
    assert answer["reason"] == "suppressed"


def tampered(token: str) -> list[str]:
    version, kid, body, signature = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    other_key = LinkSigner(secrets.token_bytes(32)).sign(
        LinkClaim(LinkKind.UNSUBSCRIBE, "0" * 64, Channel.EMAIL, "marketing")
    )
    return [
        f"{version}.{kid}.{flipped}.{signature}",
        token[:-5],
        f"{version}.{kid}.{body}",
        other_key,
        "v1.nope.nope.nope",
        "garbage",
    ]


async def test_forged_tampered_and_unknown_tokens_change_nothing_and_look_alike(
    api: Api, database: AsyncEngine
) -> None:
    email, _, _, minted = await family(api)
    token = minted["url"].rsplit("/", 1)[1]
    events = await count(database, "consent_events")
    answers = set()
    for bad in tampered(token):
        for method in ("GET", "POST"):
            response = await api.client.request(
                method, f"/unsubscribe/{bad}", content=b"List-Unsubscribe=One-Click"
            )
            answers.add((response.status_code, response.text))
        response = await api.client.get(f"/preferences/{bad}")
        answers.add((response.status_code, response.text))
    assert len(answers) == 1
    assert next(iter(answers))[0] == 404
    assert await count(database, "consent_events") == events
    assert (await api.check("email", email))["allowed"] is True


async def test_every_page_sends_the_security_headers(api: Api) -> None:
    _, _, _, minted = await family(api)
    responses = [
        await api.client.get(path_of(minted["url"])),
        await api.client.get(path_of(minted["preferences_url"])),
        await api.client.get("/unsubscribe/garbage"),
        await api.client.post(path_of(minted["url"])),
    ]
    for response in responses:
        assert response.headers["content-type"].startswith("text/html")
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, name
        assert "http://" not in re.sub(r'href="http://testserver/preferences/[^"]+"', "", response.text)


async def test_a_real_message_round_trip(api: Api) -> None:
    """Build a message with the returned headers, serialise, parse, and unsubscribe as a mail client does."""
    email, _, _, minted = await family(api)
    message = EmailMessage()
    message["From"] = "news@homestart.example"
    message["To"] = email
    message["Subject"] = "Our spring newsletter"
    for name, value in minted["headers"].items():
        message[name] = value
    message.set_content("Hello!\n")
    received = message_from_bytes(message.as_bytes(), policy=policy.default)

    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https?://[^>]+)>", str(received["List-Unsubscribe"]).strip())
    assert url is not None
    response = await api.client.post(
        path_of(url.group(1)),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert (await api.check("email", email))["allowed"] is False


def csrf_token(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


async def test_the_preferences_page_shows_and_saves_choices(api: Api) -> None:
    email, mobile, person, minted = await family(api)
    page = await api.client.get(path_of(minted["preferences_url"]))
    assert page.status_code == 200
    html = page.text
    assert 'name="choice:marketing:email" value="yes" checked' in html
    assert 'name="choice:marketing:phone" value="no" checked' in html
    assert 'name="choice:marketing:post" value="yes" checked' in html  # legitimate interests
    assert (
        "<legend>Text message</legend>" in html
        and '<label for="choice:marketing:sms:yes">Yes</label>' in html
    )

    form = {
        "_csrf_token": csrf_token(html),
        "choice:marketing:email": "no",
        "choice:marketing:sms": "yes",
        "choice:marketing:phone": "yes",
        "choice:marketing:post": "no",
        "notice:marketing": "1",
    }
    saved = await api.client.post(path_of(minted["preferences_url"]), data=form)
    assert saved.status_code == 200, saved.text
    assert "Your choices are saved" in saved.text

    assert (await api.check("email", email))["allowed"] is False
    assert (await api.check("phone", mobile))["reason"] == "consent_granted"
    address_less = await api.check("post", purpose="marketing", person_id=person)
    assert address_less["reason"] == "objected"
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    from_page = [e for e in history if e["source"] == "preference_centre"]
    assert sorted((e["channel"], e["decision"]) for e in from_page) == [
        ("email", "withdrawn"),
        ("phone", "granted"),
        ("post", "withdrawn"),
    ]
    assert next(e for e in from_page if e["channel"] == "phone")["notice"] == {
        "purpose": "marketing",
        "version": 1,
    }


async def test_the_preferences_form_needs_its_csrf_token(api: Api) -> None:
    email, _, _, minted = await family(api)
    await api.client.get(path_of(minted["preferences_url"]))
    forged = await api.client.post(path_of(minted["preferences_url"]), data={"choice:marketing:email": "no"})
    assert forged.status_code == 403
    assert (await api.check("email", email))["allowed"] is True


async def test_two_one_click_posts_at_the_same_moment_record_one_event(
    api: Api, database: AsyncEngine
) -> None:
    _, _, person, minted = await family(api)
    responses = await asyncio.gather(
        *(api.client.post(path_of(minted["url"]), content=b"List-Unsubscribe=One-Click") for _ in range(4))
    )
    assert [r.status_code for r in responses] == [200] * 4
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    assert [e["source"] for e in history].count("unsubscribe_link") == 1


async def test_rate_limits_slow_pages_but_never_a_valid_opt_out(api: Api) -> None:
    # Counters of its own (in memory): the suite's other requests share the Redis-backed ones.
    limited_settings = replace(api.settings, limits=Limits(public_rate_limit=3), redis_url=None)
    context = build_context(limited_settings)
    await context.catalogue.reload()
    app = create_app(limited_settings, context)
    _, _, _, minted = await family(api)
    transport = in_process(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        pages = [(await client.get("/unsubscribe/garbage")).status_code for _ in range(5)]
        assert pages[:3] == [404] * 3 and pages[3:] == [429, 429]
        opt_outs = [(await client.post(path_of(minted["url"]))).status_code for _ in range(5)]
        assert opt_outs == [200] * 5
        forged = await client.post("/unsubscribe/v1.nope.nope.nope")
        assert forged.status_code == 429
    await shutdown(app, context)
