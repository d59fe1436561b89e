"""Organisations add their own purposes and wordings; a soft opt-in rests on its collection context."""

from __future__ import annotations

import secrets

from tests.integration.conftest import Api, fresh_email
from tests.integration.test_org_type import soft_opt_in_registration


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
