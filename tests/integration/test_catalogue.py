"""Organisations add their own purposes and wordings; a soft opt-in rests on its collection context."""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent_service.services.catalogue import seed
from tests.integration.conftest import Api, Fresh, count, fresh_email
from tests.integration.test_choices import record, withdraw
from tests.integration.test_org_type import soft_opt_in_registration
from tests.integration.test_registrations import grant, register


async def test_a_charity_adds_a_soft_opt_in_purpose_and_records_it(api: Api) -> None:
    code = f"fundraising_{secrets.token_hex(4)}"
    made = await api.post(
        "/v1/purposes",
        {
            "code": code,
            "category": "marketing",
            "description": "Appeals to supporters",
            "bases": {"email": "soft_opt_in", "post": "legitimate_interests"},
        },
        scope="admin",
    )
    assert made.status_code == 201, made.text
    again = await api.post(
        "/v1/purposes", {"code": code, "category": "marketing", "bases": {"email": "consent"}}, scope="admin"
    )
    assert again.status_code == 409

    wording = await api.post(
        "/v1/notices",
        {"purpose": code, "text": "We may email you about our appeals. Tick here to opt out: [ ]"},
        scope="admin",
    )
    assert wording.status_code == 201, wording.text
    notice = wording.json()
    assert notice["version"] == 1 and len(notice["sha256"]) == 64
    newer = (await api.post("/v1/notices", {"purpose": code, "text": "New wording"}, scope="admin")).json()
    assert newer["version"] == 2
    listed = (await api.get("/v1/notices", scope="forms", purpose=code)).json()["items"]
    assert [n["version"] for n in listed] == [1, 2]

    email = fresh_email()
    context = {
        "relationship": "supporter",
        "opt_out_offered": True,
        "opt_out_wording": "Tick here if you would rather not hear from us again.",
    }
    body = soft_opt_in_registration(code, email, context)
    response = await api.post("/v1/registrations", body, scope="forms")
    assert response.status_code == 201, response.text
    answer = await api.check("email", email, purpose=code)
    assert (answer["allowed"], answer["reason"], answer["basis"]) == (True, "soft_opt_in", "soft_opt_in")
    assert (await api.check("email", fresh_email(), purpose=code))["reason"] == "no_consent"

    body = soft_opt_in_registration(code, fresh_email(), {**context, "opt_out_offered": False})
    refused = await api.post("/v1/registrations", body, scope="forms")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "choices[0].collection_context.opt_out_offered"


async def test_email_and_text_marketing_cannot_rest_on_legitimate_interests(api: Api) -> None:
    """PECR reg 22: an organisation cannot configure its way round consent for email and texts."""
    code = f"newsletter_{secrets.token_hex(4)}"
    bases = {"email": "legitimate_interests", "sms": "legitimate_interests", "post": "legitimate_interests"}
    refused = await api.post(
        "/v1/purposes", {"code": code, "category": "marketing", "bases": bases}, scope="admin"
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["bases.email", "bases.sms"]
    listed = (await api.get("/v1/purposes", scope="admin")).json()["items"]
    assert code not in {p["code"] for p in listed}

    service = await api.post(
        "/v1/purposes", {"code": code, "category": "administrative", "bases": bases}, scope="admin"
    )
    assert service.status_code == 201, service.text


async def test_any_key_reads_the_catalogue(api: Api) -> None:
    for scope in ("forms", "checks", "staff", "admin"):
        purposes = (await api.get("/v1/purposes", scope=scope)).json()["items"]
        codes = {p["code"]: p for p in purposes}
        assert codes["marketing"]["bases"]["post"] == "legitimate_interests"
        assert codes["marketing"]["bases"]["email"] == "consent"
        assert codes["testimonial"]["bases"] == {"none": "consent"}
        assert codes["administrative"]["category"] == "administrative"


async def test_a_wording_for_an_unknown_purpose_is_refused(api: Api) -> None:
    response = await api.post("/v1/notices", {"purpose": "nothing_here", "text": "x"}, scope="admin")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "purpose", "message": "unknown purpose 'nothing_here'"}]


async def test_a_request_to_renew_consent_is_marketing_and_needs_consent_of_its_own(api: Api) -> None:
    """ICO v Flybe and Honda (2017): "are you still happy to hear from us?" is itself marketing."""
    purposes = {p["code"]: p for p in (await api.get("/v1/purposes", scope="checks")).json()["items"]}
    renewal = purposes["consent_renewal"]
    assert renewal["category"] == "marketing"
    assert set(renewal["bases"]) >= {"email", "sms", "phone", "post"}
    assert set(renewal["bases"].values()) == {"consent"}, "every channel, post included, on consent"
    assert [
        n["version"] for n in (await api.get("/v1/notices", purpose="consent_renewal")).json()["items"]
    ] == [1]

    # Flybe's mistake: someone who said no to marketing emails is asked to think again.
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    await record(api, person, [withdraw("email")])
    asked = await api.check("email", email, purpose="consent_renewal")
    assert (asked["allowed"], asked["reason"]) == (False, "no_consent")
    # A renewal letter is no exception, though marketing letters rest on legitimate interests.
    letter = await api.check(
        "post", {"lines": ["7 Renewal Row"], "postcode": "LS1 4AP"}, purpose="consent_renewal"
    )
    assert (letter["allowed"], letter["reason"]) == (False, "no_consent")

    # Someone who agreed to be asked may be; their unsubscribe from it stops it like any marketing.
    willing = fresh_email()
    await register(api, willing, choices=[grant("email", "consent_renewal")])
    assert (await api.check("email", willing, purpose="consent_renewal"))["reason"] == "consent_granted"
    minted = await api.post(
        "/v1/unsubscribe-links",
        {"to": willing, "channel": "email", "purpose": "consent_renewal"},
        scope="checks",
    )
    assert (await api.client.post(minted.json()["url"].removeprefix("http://testserver"))).status_code == 200
    assert (await api.check("email", willing, purpose="consent_renewal"))["reason"] == "suppressed"


async def test_a_service_started_before_a_default_purpose_existed_gets_it_on_its_next_start(
    fresh: Fresh,
) -> None:
    engine = create_async_engine(fresh.url)
    async with engine.begin() as connection:  # the catalogue as a release without the renewal purpose left it
        await connection.execute(text("DELETE FROM notice_versions WHERE purpose = 'consent_renewal'"))
        await connection.execute(text("DELETE FROM purposes WHERE code = 'consent_renewal'"))
    await engine.dispose()

    assert await seed(fresh.context.store, fresh.context.clock) is True
    assert await seed(fresh.context.store, fresh.context.clock) is False
    async with fresh.context.store.reading() as uow:
        codes = [p.code for p in await uow.catalogue.purposes()]
        wordings = [n.version for n in await uow.catalogue.notices("consent_renewal")]
    assert sorted(codes) == ["administrative", "consent_renewal", "marketing", "testimonial"]
    assert wordings == [1]


async def test_only_a_consent_request_can_back_a_grant(api: Api, database: AsyncEngine) -> None:
    """Art 7(2), Recital 42: agreeing to terms and conditions is not consent to marketing."""
    code = f"club_{secrets.token_hex(4)}"
    bases = {"email": "consent"}
    assert (
        await api.post("/v1/purposes", {"code": code, "category": "marketing", "bases": bases}, scope="admin")
    ).status_code == 201
    request = "May we email you about club nights? Tick if yes."
    terms = "Terms of membership. By joining you agree to receive our club news."
    for text_, kind in ((request, "consent_request"), (terms, "terms")):
        published = await api.post(
            "/v1/notices", {"purpose": code, "text": text_, "kind": kind}, scope="admin"
        )
        assert published.status_code == 201, published.text
    listed = (await api.get("/v1/notices", purpose=code)).json()["items"]
    assert [(n["version"], n["kind"]) for n in listed] == [(1, "consent_request"), (2, "terms")]
    odd = await api.post("/v1/notices", {"purpose": code, "text": "x", "kind": "leaflet"}, scope="admin")
    assert odd.status_code == 422 and [e["field"] for e in odd.json()["errors"]] == ["kind"]

    email = fresh_email()
    events = await count(database, "consent_events")
    under_terms = {
        "purpose": code,
        "channel": "email",
        "decision": "granted",
        "affirmative_action": "ticked_box",
        "pre_ticked": False,
        "notice": {"purpose": code, "version": 2},
    }
    body = {
        "person": {"contacts": [{"kind": "email", "value": email}]},
        "choices": [under_terms],
        "source": "web_form",
    }
    refused = await api.post("/v1/registrations", body, scope="forms")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["choices[0].notice"]
    assert "not a consent request" in refused.json()["errors"][0]["message"]
    assert await count(database, "consent_events") == events

    asked = {**under_terms, "notice": {"purpose": code, "version": 1}}
    assert (
        await api.post("/v1/registrations", {**body, "choices": [asked]}, scope="forms")
    ).status_code == 201
    assert (await api.check("email", email, purpose=code))["reason"] == "consent_granted"
    # The preferences page offers the consent request with the choice, never the terms.
    minted = await api.post(
        "/v1/unsubscribe-links", {"to": email, "channel": "email", "purpose": code}, scope="checks"
    )
    page = (await api.client.get(minted.json()["preferences_url"].removeprefix("http://testserver"))).text
    assert request in page and terms not in page
    assert f'name="notice:{code}" value="1"' in page
