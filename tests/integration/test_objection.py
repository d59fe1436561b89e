"""LEGAL #6 and #14 through the API: an objection to all marketing stops every marketing purpose on
every channel, post included; no key lifts it, and the refused attempt is in the change feed; only the
person's own new grant re-opens the one purpose and channel granted."""

from __future__ import annotations

import secrets
from typing import Any

from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_changes import changes_since, head
from tests.integration.test_choices import record
from tests.integration.test_registrations import grant
from tests.integration.test_suppressions import suppress


async def newsletter(api: Api) -> str:
    """A marketing purpose of the organisation's own, on consent by email and text, on legitimate
    interests by post, with a first wording."""
    code = f"newsletter_{secrets.token_hex(4)}"
    bases = {"email": "consent", "sms": "consent", "post": "legitimate_interests"}
    created = await api.post("/v1/purposes", {"code": code, "category": "marketing", "bases": bases}, "admin")
    assert created.status_code == 201, created.text
    notice = await api.post("/v1/notices", {"purpose": code, "text": "Our monthly newsletter"}, "admin")
    assert notice.status_code == 201, notice.text
    return code


async def person_with_every_channel(api: Api, code: str) -> tuple[str, dict[str, Any]]:
    address = {"lines": [f"{secrets.token_hex(6)} Road"], "postcode": "LS1 4AP"}
    to = {"email": fresh_email(), "sms": fresh_mobile(), "post": address}
    to["phone"] = to["sms"]
    body = {
        "person": {
            "contacts": [
                {"kind": "email", "value": to["email"]},
                {"kind": "phone", "value": to["sms"]},
                {"kind": "postal", "value": address},
            ]
        },
        "choices": [grant("email"), grant("sms"), grant("phone"), grant("email", code), grant("sms", code)],
        "source": "web_form",
    }
    response = await api.post("/v1/registrations", body, scope="forms")
    assert response.status_code == 201, response.text
    return response.json()["person_id"], to


async def object_to_all(api: Api, person: str) -> Any:
    body = {"source": "phone_call", "evidence": {"staff_member": "Ana at the family hub"}}
    response = await api.post(f"/v1/people/{person}/objection", body, scope="staff")
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_objection_to_all_marketing_stops_every_purpose_and_channel_post_included(api: Api) -> None:
    code = await newsletter(api)
    person, to = await person_with_every_channel(api, code)
    everything = [
        (purpose, channel) for purpose in ("marketing", code) for channel in ("email", "sms", "post")
    ]
    everything.append(("marketing", "phone"))
    before = [(p, c, (await api.check(c, to[c], purpose=p))["allowed"]) for p, c in everything]
    assert before == [(p, c, True) for p, c in everything]

    objection = await object_to_all(api, person)

    assert {e["channel"] for e in objection["suppressions"]} == {"all"}
    assert {e["reason"] for e in objection["suppressions"]} == {"objected"}
    assert len(objection["suppressions"]) == 3  # the email, the phone number, the address
    for purpose, channel in everything:
        answer = await api.check(channel, to[channel], purpose=purpose)
        assert (purpose, channel, answer["allowed"]) == (purpose, channel, False)
    by_person = await api.check("post", purpose=code, person_id=person)
    assert by_person["allowed"] is False
    for channel in ("email", "sms", "post"):
        admin = await api.check(channel, to[channel], purpose="administrative")
        assert (admin["allowed"], admin["reason"]) == (True, "administrative")


async def test_no_key_lifts_an_objection_and_each_attempt_is_in_the_change_feed(api: Api) -> None:
    code = await newsletter(api)
    person, to = await person_with_every_channel(api, code)
    entries = (await object_to_all(api, person))["suppressions"]
    objected_by_staff = await suppress(api, fresh_email(), channel="all", reason="objected")
    start = await head(api)

    for entry in [*entries, objected_by_staff]:
        for scope in ("staff", "all"):
            refused = await api.delete(f"/v1/suppressions/{entry['id']}", {"reason": "added_in_error"}, scope)
            assert refused.status_code == 409, refused.text
            problem = refused.json()
            assert problem["type"].endswith("/objection-stands")
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert "only the person" in problem["detail"]

    assert (await api.check("email", to["email"]))["reason"] == "suppressed"
    found = (await api.get("/v1/suppressions/lookup", to=to["email"], channel="email")).json()["items"]
    assert all(e["lifted_at"] is None for e in found if e["reason"] == "objected")
    refusals = [c for c in await changes_since(api, start) if c["type"] == "suppression.lift_refused"]
    assert len(refusals) == 2 * (len(entries) + 1)
    assert {r["data"]["suppression_id"] for r in refusals} == {e["id"] for e in [*entries, objected_by_staff]}
    assert {r["data"]["reason"] for r in refusals} == {"added_in_error"}
    assert all(r["data"]["actor"] for r in refusals)


async def test_a_fresh_grant_for_the_email_newsletter_reopens_that_alone(api: Api) -> None:
    code = await newsletter(api)
    person, to = await person_with_every_channel(api, code)
    await object_to_all(api, person)

    await record(api, person, [grant("email", code)], source="web_form")

    answer = await api.check("email", to["email"], purpose=code)
    assert (answer["allowed"], answer["reason"]) == (True, "consent_granted")
    for purpose, channel in [(code, "sms"), (code, "post"), ("marketing", "email"), ("marketing", "post")]:
        still = await api.check(channel, to[channel], purpose=purpose)
        assert (purpose, channel, still["allowed"]) == (purpose, channel, False)


async def test_a_grant_recorded_by_an_import_does_not_reopen(api: Api) -> None:
    code = await newsletter(api)
    person, to = await person_with_every_channel(api, code)
    await object_to_all(api, person)
    await record(api, person, [grant("email", code)], source="import")
    assert (await api.check("email", to["email"], purpose=code))["allowed"] is False


async def test_the_objection_covers_a_contact_point_and_a_purpose_added_after_it(api: Api) -> None:
    reference = f"case-{secrets.token_hex(6)}"
    email, mobile = fresh_email(), fresh_mobile()
    first = {"person": {"reference": reference, "contacts": [{"kind": "email", "value": email}]}}
    made = await api.post("/v1/registrations", {**first, "choices": [], "source": "web_form"}, scope="forms")
    assert made.status_code == 201, made.text
    await object_to_all(api, made.json()["person_id"])
    later_purpose = await newsletter(api)

    again = {"person": {"reference": reference, "contacts": [{"kind": "phone", "value": mobile}]}}
    added = await api.post(
        "/v1/registrations", {**again, "choices": [], "source": "paper_form"}, scope="forms"
    )
    assert added.status_code == 201, added.text

    for purpose in ("marketing", later_purpose):
        answer = await api.check("sms", mobile, purpose=purpose)
        assert (purpose, answer["allowed"]) == (purpose, False)
    found = (await api.get("/v1/suppressions/lookup", to=mobile, channel="sms")).json()["items"]
    assert [(e["reason"], e["channel"], e["purpose"]) for e in found] == [("objected", "all", None)]
