"""Text messages people send back through GOV.UK Notify (LEGAL #4): a STOP opts the number out of
marketing texts before the next check, once; any other text changes nothing; only Notify's bearer
token is let in; and an opt-out is not lost for a missing or unreadable date.

The messages are written from Notify's received text messages callback documentation (its keys: id,
source_number, destination_number, message, date_received).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Api, count, fresh_email, fresh_mobile
from tests.integration.test_feedback_notify import TOKEN, entries, notify, outcome, refused
from tests.integration.test_registrations import grant, register

__all__ = ["notify"]  # the configured app, shared with the delivery receipts' tests

PATH = "/v1/feedback/notify/received-text"


def received(source_number: str, message: str, **more: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source_number": source_number,
        "destination_number": "07700900001",
        "message": message,
        "date_received": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **more,
    }


async def send(
    client: httpx.AsyncClient, body: Any, authorization: str | None = f"Bearer {TOKEN}"
) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return await client.post(PATH, json=body, headers=headers)


def international(mobile: str) -> str:
    """Notify reports the sender's number in international form, without the plus."""
    return "44" + mobile.removeprefix("0")


@pytest.mark.parametrize(
    "message",
    [
        "STOP",
        "stop",
        "Stop.",
        "  STOP please",
        "STOPALL",
        "Unsubscribe",
        "cancel",
        "END",
        "quit",
        "Stopio",
        "dim diolch",
    ],
)
async def test_a_stop_text_opts_the_number_out_of_marketing_texts_before_the_next_check(
    api: Api, notify: httpx.AsyncClient, message: str
) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    await register(api, email, mobile, [grant("email"), grant("sms")])
    assert (await api.check("sms", mobile))["allowed"] is True

    response = await send(notify, received(international(mobile), message))
    assert response.status_code == 200, response.text
    assert response.json() == outcome(suppressed=1)
    assert mobile.removeprefix("0") not in response.text

    assert (await api.check("sms", mobile))["allowed"] is False
    assert (await api.check("sms", mobile, purpose="administrative"))["allowed"] is True
    assert (await api.check("email", email))["allowed"] is True
    [entry] = await entries(api, mobile, "sms")
    assert (entry["reason"], entry["channel"], entry["source"]) == ("unsubscribed", "sms", "notify")


@pytest.mark.parametrize("message", ["Stopping by at 3", "Please call me", "", "yes STOP", "12 STOP"])
async def test_any_other_text_is_counted_and_changes_nothing(
    api: Api, notify: httpx.AsyncClient, database: AsyncEngine, message: str
) -> None:
    mobile = fresh_mobile()
    await register(api, fresh_email(), mobile, [grant("sms")])
    before = await count(database, "suppressions"), await count(database, "provider_events")
    response = await send(notify, received(international(mobile), message))
    assert response.status_code == 200, response.text
    assert response.json() == outcome(ignored=1)
    assert (await count(database, "suppressions"), await count(database, "provider_events")) == before
    assert (await api.check("sms", mobile))["allowed"] is True


async def test_a_repeated_stop_changes_nothing_and_a_second_stop_is_already_suppressed(
    api: Api, notify: httpx.AsyncClient, database: AsyncEngine
) -> None:
    mobile = fresh_mobile()
    await register(api, fresh_email(), mobile, [grant("sms")])
    stop = received(international(mobile), "STOP")
    assert (await send(notify, stop)).json() == outcome(suppressed=1)
    before = await count(database, "suppressions"), await count(database, "provider_events")
    assert (await send(notify, stop)).json() == outcome(duplicates=1)
    assert (await count(database, "suppressions"), await count(database, "provider_events")) == before
    again = await send(notify, received(mobile, "stop"))
    assert again.json() == outcome(already_suppressed=1)
    assert len(await entries(api, mobile, "sms")) == 1


async def test_a_stop_with_an_unreadable_date_or_no_destination_is_still_an_opt_out(
    api: Api, notify: httpx.AsyncClient
) -> None:
    mobile = fresh_mobile()
    await register(api, fresh_email(), mobile, [grant("sms")])
    body = received(international(mobile), "STOP", date_received="yesterday")
    del body["destination_number"]
    response = await send(notify, body)
    assert response.json() == outcome(suppressed=1), response.text
    assert (await api.check("sms", mobile))["allowed"] is False


async def test_a_stop_from_someone_not_on_file_suppresses_their_number(
    api: Api, notify: httpx.AsyncClient
) -> None:
    mobile = fresh_mobile()
    assert (await send(notify, received(international(mobile), "STOP"))).json() == outcome(suppressed=1)
    [entry] = await entries(api, mobile, "sms")
    assert entry["reason"] == "unsubscribed"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-000", f"Basic {TOKEN}"])
async def test_only_the_configured_bearer_token_is_let_in(
    api: Api, notify: httpx.AsyncClient, database: AsyncEngine, authorization: str | None
) -> None:
    mobile = fresh_mobile()
    before = await count(database, "provider_events")
    refused(await send(notify, received(international(mobile), "STOP"), authorization), 403)
    assert await count(database, "provider_events") == before
    assert await entries(api, mobile, "sms") == []


async def test_bad_bodies_are_refused_field_by_field_and_record_nothing(
    notify: httpx.AsyncClient, database: AsyncEngine
) -> None:
    before = await count(database, "provider_events"), await count(database, "suppressions")
    bad = await notify.post(PATH, content=b"not json", headers={"Authorization": f"Bearer {TOKEN}"})
    refused(bad, 400)
    refused(await send(notify, [received(fresh_mobile(), "STOP")]), 422)
    problem = refused(await send(notify, {"id": 7, "source_number": "", "message": None}), 422)
    assert {error["field"] for error in problem["errors"]} == {"id", "source_number", "message"}
    assert (await count(database, "provider_events"), await count(database, "suppressions")) == before


async def test_received_texts_without_a_token_are_not_configured(api: Api) -> None:
    response = await send(api.client, received(fresh_mobile(), "STOP"))
    assert "not configured" in refused(response, 404)["detail"]
