"""What a mailing tool needs to send, in the check's own answer: each allowed marketing email's opt-out
(LEGAL #11, #20: RFC 8058 headers, an optional ``mailto:``, HTTPS links), and the sender and
``List-Id`` of the purpose's mail stream (LEGAL #24)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from msgspec.structs import replace

from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.config import Organisation, Streams
from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_links import path_of
from tests.integration.test_ndjson import lines, stream
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process

ONE_CLICK = "List-Unsubscribe=One-Click"
BASE = "https://consent.family-hub.example"


async def test_an_email_check_names_its_categorys_stream_derived_by_default(api: Api) -> None:
    """Unset, the ``List-Id`` is ``<category.host of the public URL>`` and there is no ``From`` to
    derive (the suite's organisation has no email address)."""
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    marketing = await api.check("email", email)
    administrative = await api.check("email", email, purpose="administrative")
    assert marketing["stream"] == {"category": "marketing", "from": None, "list_id": "<marketing.testserver>"}
    assert administrative["stream"] == {
        "category": "administrative",
        "from": None,
        "list_id": "<administrative.testserver>",
    }
    assert "stream" not in await api.check("sms", fresh_mobile())


@pytest.fixture
async def family_hub(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The suite's database and keys, configured as a deployment would be: an HTTPS public URL, an
    unsubscribe mailbox, the organisation's address, and a sender and List-Id of its own for news."""
    settings = replace(
        api.settings,
        links=replace(
            api.settings.links, public_base_url=BASE, unsubscribe_mailto="optout@family-hub.example"
        ),
        organisation=Organisation(name="Family Hub", email="hello@family-hub.example"),
        streams=Streams(
            marketing_from="Family Hub news <news@family-hub.example>",
            marketing_list_id="Family Hub news <news.family-hub.example>",
        ),
    )
    context = build_context(settings)
    await context.catalogue.reload()
    app = create_app(settings, context)
    async with httpx.AsyncClient(
        transport=in_process(app), base_url="http://testserver", headers=api.headers("checks")
    ) as client:
        yield client
    await shutdown(app, context)


def _as_sent(headers: dict[str, str]) -> EmailMessage:
    """The headers as a mail client reads them from a message."""
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\nHello\r\n"
    message = message_from_bytes(raw.encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_a_deployments_answer_carries_https_link_mailto_and_its_own_streams(
    api: Api, family_hub: httpx.AsyncClient
) -> None:
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    response = await family_hub.post(
        "/v1/checks", json={"purpose": "marketing", "channel": "email", "to": email, "links": True}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    links = answer["links"]
    token = links["url"].removeprefix(f"{BASE}/unsubscribe/")
    assert links["url"].startswith(f"{BASE}/unsubscribe/v1.") and links["preferences_url"].startswith(BASE)
    message = _as_sent(links["headers"])
    # RFC 8058 §3.1: exactly one HTTPS URI, and the one-click header; RFC 2369 lets a mailto follow.
    assert message["List-Unsubscribe"] == (
        f"<{links['url']}>, <mailto:optout@family-hub.example?subject=unsubscribe%20{token}>"
    )
    assert str(message["List-Unsubscribe"]).count("https://") == 1
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    assert answer["stream"] == {
        "category": "marketing",
        "from": "Family Hub news <news@family-hub.example>",
        "list_id": "Family Hub news <news.family-hub.example>",
    }

    service = await family_hub.post(
        "/v1/checks", json={"purpose": "administrative", "channel": "email", "to": email, "links": True}
    )
    assert service.json()["stream"] == {
        "category": "administrative",
        "from": "Family Hub <hello@family-hub.example>",
        "list_id": "<administrative.family-hub.example>",
    }
    assert "links" not in service.json()

    # The link is the suite's own: pressed, the address stops being allowed.
    assert (await api.client.post(f"/unsubscribe/{token}", content=ONE_CLICK.encode())).status_code == 200
    assert (await api.check("email", email))["reason"] == "suppressed"


async def test_a_bulk_answer_names_the_stream_once_and_links_only_the_allowed(
    api: Api, family_hub: httpx.AsyncClient
) -> None:
    allowed, unknown = fresh_email(), fresh_email()
    await register(api, allowed, choices=[grant("email")])
    body = {"purpose": "marketing", "channel": "email", "to": [allowed, unknown], "links": True}
    answer = (await family_hub.post("/v1/checks/bulk", json=body)).json()
    assert answer["stream"]["list_id"] == "Family Hub news <news.family-hub.example>"
    first, second = answer["results"]
    assert all("stream" not in r for r in answer["results"])
    assert first["links"]["headers"]["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe/v1.")
    assert first["links"]["headers"]["List-Unsubscribe-Post"] == ONE_CLICK
    assert "links" not in second and second["reason"] == "no_consent"

    by_sms = await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "sms", "to": [fresh_mobile()]}, scope="checks"
    )
    assert "stream" not in by_sms.json()

    # The document's ``links`` query parameter holds on the JSON form too: true, false, or refused.
    headers = api.headers("checks")
    unasked = {**body, "links": False}
    by_query = await api.client.post("/v1/checks/bulk?links=true", json=unasked, headers=headers)
    assert "links" in by_query.json()["results"][0]
    refused = await api.client.post("/v1/checks/bulk?links=null", json=body, headers=headers)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["query.links"]


async def test_the_ndjson_stream_gives_links_to_allowed_lines_when_asked(api: Api) -> None:
    allowed, unknown = fresh_email(), fresh_email()
    await register(api, allowed, choices=[grant("email")])
    body = lines({"to": allowed}, {"to": unknown}, {"to": "not-an-address"})

    plain = [json.loads(line) for line in (await stream(api, body)).text.splitlines()]
    assert all("links" not in a for a in plain)

    response = await stream(api, body, links="true")
    assert response.status_code == 200, response.text
    first, second, third = (json.loads(line) for line in response.text.splitlines())
    assert first["allowed"] is True
    url = first["links"]["url"]
    assert first["links"]["headers"] == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}
    assert "links" not in second and "links" not in third

    assert (await api.client.post(path_of(url), content=ONE_CLICK.encode())).status_code == 200
    again = [json.loads(line) for line in (await stream(api, body, links="true")).text.splitlines()]
    assert again[0]["reason"] == "suppressed" and "links" not in again[0]


async def test_the_ndjson_links_flag_must_be_true_or_false(api: Api) -> None:
    response = await stream(api, lines({"to": fresh_email()}), links="yes please")
    assert response.status_code == 422
    problem: dict[str, Any] = response.json()
    assert [e["field"] for e in problem["errors"]] == ["query.links"]


async def test_every_answer_names_the_category_it_was_judged_as(api: Api) -> None:
    # LEGAL #17: the purpose's category decides the rules; the answer says which, so a mailing tool
    # can tell a marketing deny from an administrative one without knowing the catalogue.
    email = fresh_email()
    marketing = await api.check("email", email)
    administrative = await api.check("email", email, purpose="administrative")
    assert (marketing["category"], marketing["allowed"]) == ("marketing", False)
    assert (administrative["category"], administrative["allowed"]) == ("administrative", True)
    by_text = await api.check("sms", fresh_mobile(), purpose="administrative")
    assert by_text["category"] == "administrative" and "stream" not in by_text

    body = {"purpose": "administrative", "channel": "email", "to": [email, fresh_email()]}
    bulk = (await api.post("/v1/checks/bulk", body, scope="checks")).json()
    assert bulk["category"] == "administrative"
    assert [r["allowed"] for r in bulk["results"]] == [True, True]
