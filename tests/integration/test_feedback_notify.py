"""GOV.UK Notify delivery receipts over HTTP: a permanent failure becomes a hard bounce on the address or
mobile number, once; nothing else suppresses; only Notify's bearer token is let in.

The receipts are written from Notify's callback documentation (its keys: id, reference, to, status,
created_at, completed_at, sent_at, notification_type). A second app over the main app's context is
configured with the token, as a deployment would be; the main ``api`` app has none configured.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.api.app import create_app
from consent_service.config import Feedback, Settings, SettingsError
from tests.integration.conftest import Api, count, fresh_email, fresh_mobile
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process

TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
async def notify(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    settings = replace(api.settings, feedback=Feedback(notify_callback_token=TOKEN), redis_url=None)
    app = create_app(settings, api.context)
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://testserver") as client:
        yield client


def receipt(to: str, status: str, kind: str = "email", **more: Any) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": str(uuid.uuid4()),
        "reference": "newsletter-2026-12",
        "to": to,
        "status": status,
        "created_at": now,
        "completed_at": now,
        "sent_at": now,
        "notification_type": kind,
        # Fields beyond the documented ones (Notify adds some over time) are let through.
        "template_id": str(uuid.uuid4()),
        "template_version": 3,
        **more,
    }


async def send(
    client: httpx.AsyncClient, body: Any, authorization: str | bytes | None = f"Bearer {TOKEN}"
) -> httpx.Response:
    value = authorization.encode() if isinstance(authorization, str) else authorization
    headers = {} if value is None else {b"Authorization": value}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post("/v1/feedback/notify", content=content, headers=headers)


def outcome(**counts: int) -> dict[str, int]:
    """The answer's counts: those given, and nothing else happened."""
    names = ("suppressed", "already_suppressed", "duplicates", "ignored", "unusable")
    return {name: counts.get(name, 0) for name in names}


def refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    return problem


async def entries(api: Api, to: str, channel: str) -> list[dict[str, Any]]:
    found = await api.get("/v1/suppressions/lookup", scope="checks", to=to, channel=channel)
    assert found.status_code == 200, found.text
    return found.json()["items"]  # type: ignore[no-any-return]


async def test_a_permanent_email_failure_marks_the_address_invalid(
    api: Api, notify: httpx.AsyncClient
) -> None:
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    response = await send(notify, receipt(email.upper(), "permanent-failure"))
    assert response.status_code == 200, response.text
    assert response.json() == outcome(suppressed=1)
    assert email not in response.text.lower()
    for purpose in ("marketing", "administrative"):
        answer = await api.check("email", email, purpose=purpose)
        assert (answer["allowed"], answer["reason"]) == (False, "contact_invalid")
    [entry] = await entries(api, email, "email")
    assert (entry["reason"], entry["channel"], entry["source"]) == ("hard_bounce", "email", "notify")


async def test_a_permanent_text_failure_marks_the_number_invalid_and_only_it(
    api: Api, notify: httpx.AsyncClient
) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    await register(api, email, mobile, [grant("email"), grant("sms")])
    international = "+44" + mobile.removeprefix("0")  # Notify reports the number as it was sent
    response = await send(notify, receipt(international, "permanent-failure", kind="sms"))
    assert response.json()["suppressed"] == 1, response.text
    assert (await api.check("sms", mobile))["reason"] == "contact_invalid"
    assert (await api.check("email", email))["allowed"] is True
    [entry] = await entries(api, mobile, "sms")
    assert (entry["reason"], entry["channel"]) == ("hard_bounce", "sms")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("delivered", "email"),
        ("temporary-failure", "email"),
        ("technical-failure", "sms"),
        ("permanent-failure", "letter"),
    ],
)
async def test_other_receipts_are_counted_and_suppress_nothing(
    api: Api, notify: httpx.AsyncClient, database: AsyncEngine, status: str, kind: str
) -> None:
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    before = await count(database, "suppressions")
    body = receipt(email if kind == "email" else fresh_mobile(), status, kind=kind)
    if kind == "letter":
        body["to"] = "Sam Okafor"  # a letter's first address line
    response = await send(notify, body)
    assert response.status_code == 200, response.text
    assert (response.json()["ignored"], response.json()["suppressed"]) == (1, 0)
    assert await count(database, "suppressions") == before
    assert (await api.check("email", email))["allowed"] is True


async def test_a_repeated_receipt_changes_nothing(
    api: Api, notify: httpx.AsyncClient, database: AsyncEngine
) -> None:
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    failed = receipt(email, "permanent-failure")
    assert (await send(notify, failed)).json()["suppressed"] == 1
    delivered = receipt(fresh_email(), "delivered")
    assert (await send(notify, delivered)).json()["ignored"] == 1
    before = await count(database, "suppressions"), await count(database, "provider_events")

    for again in (failed, delivered):
        response = await send(notify, again)
        assert response.status_code == 200, response.text
        assert response.json() == outcome(duplicates=1)
    assert (await count(database, "suppressions"), await count(database, "provider_events")) == before
    assert len(await entries(api, email, "email")) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        "Bearer ünïcode".encode("latin-1"),
    ],
    ids=["none", "empty", "no-token", "longer", "shorter", "basic", "non-ascii"],
)
async def test_only_the_configured_bearer_token_is_let_in(
    api: Api, notify: httpx.AsyncClient, database: AsyncEngine, authorization: str | bytes | None
) -> None:
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    before = await count(database, "provider_events")
    refused(await send(notify, receipt(email, "permanent-failure"), authorization), 403)
    assert await count(database, "provider_events") == before
    assert await entries(api, email, "email") == []


async def test_bad_bodies_are_refused_field_by_field_and_record_nothing(
    notify: httpx.AsyncClient, database: AsyncEngine
) -> None:
    before = await count(database, "provider_events")
    refused(await send(notify, b"not json"), 400)
    refused(await send(notify, [receipt(fresh_email(), "permanent-failure")]), 422)
    problem = refused(
        await send(
            notify,
            {
                "id": 7,
                "status": "",
                "to": None,
                "notification_type": "fax",
                "reference": 1,
                "completed_at": "yesterday",
            },
        ),
        422,
    )
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"id", "status", "to", "notification_type", "reference", "completed_at"}
    assert await count(database, "provider_events") == before


async def test_notify_without_a_token_is_not_configured(api: Api) -> None:
    response = await send(api.client, receipt(fresh_email(), "permanent-failure"))
    assert "not configured" in refused(response, 404)["detail"]


def test_the_token_comes_from_the_environment(tmp_path: Path) -> None:
    base = {"CONSENT_DATA_DIR": str(tmp_path)}
    given = Settings.from_env({**base, "CONSENT_NOTIFY_CALLBACK_TOKEN": TOKEN})
    assert given.feedback.notify_callback_token == TOKEN
    assert Settings.from_env(base).feedback.notify_callback_token is None
    with pytest.raises(SettingsError, match="CONSENT_NOTIFY_CALLBACK_TOKEN") as refusal:
        Settings.from_env({**base, "CONSENT_NOTIFY_CALLBACK_TOKEN": "short"})
    assert "short" not in str(refusal.value)  # a secret is not repeated back
