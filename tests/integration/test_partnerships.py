"""A consent other controllers rely on names them (LEGAL #29): a Family Hub partnership's purpose is
marked as shared; a grant to it must cite a wording that names the partners; the receipt names them."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Api, count, fresh_email

PARTNERS = ["Northshire County Council", "Little Steps Family Charity"]


async def shared_purpose(api: Api) -> str:
    code = f"family_hub_{secrets.token_hex(4)}"
    made = await api.post(
        "/v1/purposes",
        {
            "code": code,
            "category": "marketing",
            "description": "News from the Northshire Family Hub partnership",
            "bases": {"email": "consent"},
            "shares_with_controllers": True,
        },
        scope="admin",
    )
    assert made.status_code == 201, made.text
    assert made.json()["shares_with_controllers"] is True
    return code


async def publish(api: Api, code: str, controllers: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"purpose": code, "text": "May the Family Hub partners email you? Tick if yes."}
    if controllers is not None:
        body["controllers"] = controllers
    published = await api.post("/v1/notices", body, scope="admin")
    assert published.status_code == 201, published.text
    notice: dict[str, Any] = published.json()
    return notice


def registration(code: str, email: str, version: int) -> dict[str, Any]:
    choice = {
        "purpose": code,
        "channel": "email",
        "decision": "granted",
        "affirmative_action": "ticked_box",
        "pre_ticked": False,
        "notice": {"purpose": code, "version": version},
    }
    return {
        "person": {"contacts": [{"kind": "email", "value": email}]},
        "choices": [choice],
        "source": "web_form",
    }


async def test_a_grant_to_a_shared_purpose_citing_a_wording_that_names_no_partner_is_refused(
    api: Api, database: AsyncEngine
) -> None:
    code = await shared_purpose(api)
    unnamed = await publish(api, code)
    assert unnamed["controllers"] == []
    email = fresh_email()
    events = await count(database, "consent_events")

    refused = await api.post(
        "/v1/registrations", registration(code, email, unnamed["version"]), scope="forms"
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    [error] = refused.json()["errors"]
    assert error["field"] == "choices[0].notice" and "controllers" in error["message"]
    assert await count(database, "consent_events") == events
    assert (await api.check("email", email, purpose=code))["allowed"] is False


async def test_a_wording_that_names_the_partners_backs_the_grant_and_the_receipt_names_them(api: Api) -> None:
    code = await shared_purpose(api)
    named = await publish(api, code, [*PARTNERS, " " + PARTNERS[0]])
    assert named["controllers"] == PARTNERS  # trimmed, each named once
    listed = (await api.get("/v1/notices", purpose=code)).json()["items"]
    assert listed[0]["controllers"] == PARTNERS

    email = fresh_email()
    made = await api.post("/v1/registrations", registration(code, email, named["version"]), scope="forms")
    assert made.status_code == 201, made.text
    assert (await api.check("email", email, purpose=code))["allowed"] is True

    person = made.json()["person_id"]
    [event] = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    receipt = (await api.get(f"/v1/people/{person}/receipts/{event['id']}", scope="forms")).json()
    assert receipt["controllers"] == PARTNERS
    [purpose] = receipt["services"][0]["purposes"]
    assert purpose["thirdPartyDisclosure"] is True
    assert all(partner in purpose["thirdPartyName"] for partner in PARTNERS)

    record = (await api.get(f"/v1/people/{person}/consent-record", scope="admin")).json()
    assert [p["party_id"] for p in record["party"][2:]] == PARTNERS
    assert {p["role"] for p in record["party"][1:]} == {"dpv:DataController"}
    assert record["event"][0]["notice"]["controllers"] == PARTNERS


async def test_a_withdrawal_from_a_shared_purpose_is_never_refused_for_its_wording(api: Api) -> None:
    code = await shared_purpose(api)
    named = await publish(api, code, PARTNERS)
    unnamed = await publish(api, code)
    email = fresh_email()
    assert (
        await api.post("/v1/registrations", registration(code, email, named["version"]), scope="forms")
    ).status_code == 201
    body = registration(code, email, unnamed["version"])
    body["choices"][0]["decision"] = "withdrawn"
    withdrawn = await api.post("/v1/registrations", body, scope="forms")
    assert withdrawn.status_code == 201, withdrawn.text
    assert (await api.check("email", email, purpose=code))["allowed"] is False


async def test_an_own_purpose_needs_no_named_partners_and_its_receipt_discloses_none(api: Api) -> None:
    email = fresh_email()
    made = await api.post("/v1/registrations", registration("marketing", email, 1), scope="forms")
    assert made.status_code == 201, made.text
    person = made.json()["person_id"]
    [event] = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    receipt = (await api.get(f"/v1/people/{person}/receipts/{event['id']}", scope="forms")).json()
    assert receipt["controllers"] == []
    assert receipt["services"][0]["purposes"][0]["thirdPartyDisclosure"] is False
    marketing = [p for p in (await api.get("/v1/purposes")).json()["items"] if p["code"] == "marketing"]
    assert marketing[0]["shares_with_controllers"] is False


async def test_a_blank_partner_name_is_refused_by_its_place(api: Api) -> None:
    code = await shared_purpose(api)
    refused = await api.post(
        "/v1/notices",
        {"purpose": code, "text": "Partners", "controllers": [PARTNERS[0], "  "]},
        scope="admin",
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["controllers[1]"]
    assert (await api.get("/v1/notices", purpose=code)).json()["items"] == []
