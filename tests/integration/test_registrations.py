"""A registration form records choices; mailing tools then get the answers the privacy notice promises."""

from __future__ import annotations

from typing import Any, TypedDict

from tests.integration.conftest import Api, fresh_email, fresh_mobile

NOTICE = {"purpose": "marketing", "version": 1}


class Registered(TypedDict):
    """The body of a registration's answer: the person's id and the receipt of their choices."""

    person_id: str
    receipt: dict[str, Any]


def grant(channel: str, purpose: str = "marketing") -> dict[str, object]:
    return {
        "purpose": purpose,
        "channel": channel,
        "decision": "granted",
        "affirmative_action": "ticked_box",
        "pre_ticked": False,
        "notice": {"purpose": purpose, "version": 1},
    }


async def register(
    api: Api,
    email: str,
    mobile: str | None = None,
    choices: list[dict[str, object]] | None = None,
    **extra: object,
) -> Registered:
    contacts = [{"kind": "email", "value": email}]
    if mobile:
        contacts.append({"kind": "phone", "value": mobile})
    body = {"person": {"contacts": contacts, **extra}, "choices": choices or [], "source": "web_form"}
    response = await api.post("/v1/registrations", body, scope="forms")
    assert response.status_code == 201, response.text
    registered: Registered = response.json()
    return registered


async def test_form_ticking_email_and_text_but_not_phone(api: Api) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    registered = await register(api, email, mobile, [grant("email"), grant("sms")])
    assert [e["channel"] for e in registered["receipt"]["events"]] == ["email", "sms"]

    assert (await api.check("email", email))["reason"] == "consent_granted"
    assert (await api.check("sms", mobile))["allowed"] is True
    phone = await api.check("phone", mobile)
    assert (phone["allowed"], phone["reason"]) == (False, "no_consent")
    post = await api.check("post", {"lines": ["1 Any Street"], "postcode": "SW1A 1AA"})
    assert (post["allowed"], post["reason"]) == (True, "legitimate_interests")
    admin = await api.check("email", email, purpose="administrative")
    assert (admin["allowed"], admin["reason"]) == (True, "administrative")


async def test_spellings_of_the_same_mobile_and_email_match(api: Api) -> None:
    email = fresh_email()
    digits = fresh_mobile().replace(" ", "")[1:]  # 7912 xxxxxx without the trunk 0
    await register(api, email, f"0{digits[:4]} {digits[4:]}", [grant("email"), grant("sms")])

    assert (await api.check("sms", f"+44 {digits[:4]} {digits[4:]}"))["allowed"] is True
    assert (await api.check("sms", f"0044{digits}"))["allowed"] is True
    assert (await api.check("email", email.upper()))["allowed"] is True
    assert (await api.check("email", f"  {email.replace('example.org', 'EXAMPLE.ORG')} "))["allowed"] is True


async def test_evidence_names_the_event_and_notice_version(api: Api) -> None:
    email = fresh_email()
    registered = await register(api, email, choices=[grant("email")])
    answer = await api.check("email", email)
    assert answer["evidence"]["event_id"] == registered["receipt"]["events"][0]["id"]
    assert answer["evidence"]["notice"] == NOTICE
    assert answer["degraded"] is False


async def test_registration_matches_an_existing_person_by_reference(api: Api) -> None:
    reference = f"case-{fresh_email()}"
    first = await register(api, fresh_email(), reference=reference)
    second_email = fresh_email()
    second = await register(api, second_email, choices=[grant("email")], reference=reference)
    assert second["person_id"] == first["person_id"]

    person = (await api.get(f"/v1/people/{first['person_id']}")).json()
    assert len(person["contacts"]) == 2
    assert (await api.check("email", second_email))["allowed"] is True


async def test_people_are_found_by_email_phone_and_reference(api: Api) -> None:
    email, mobile, reference = fresh_email(), fresh_mobile(), f"ref-{fresh_email()}"
    registered = await register(api, email, mobile, reference=reference)
    for query in (
        {"email": email.upper()},
        {"phone": "+44" + mobile.replace(" ", "")[1:]},
        {"reference": reference},
    ):
        found = (await api.get("/v1/people", **query)).json()["items"]
        assert [p["id"] for p in found] == [registered["person_id"]], query


async def test_testimonial_is_checked_by_person(api: Api) -> None:
    registered = await register(
        api,
        fresh_email(),
        choices=[
            {
                "purpose": "testimonial",
                "decision": "granted",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
                "notice": {"purpose": "testimonial", "version": 1},
            }
        ],
    )
    answer = await api.check(None, purpose="testimonial", person_id=registered["person_id"])
    assert (answer["allowed"], answer["reason"]) == (True, "consent_granted")

    other = await register(api, fresh_email())
    answer = await api.check(None, purpose="testimonial", person_id=other["person_id"])
    assert (answer["allowed"], answer["reason"]) == (False, "no_consent")


async def test_current_choices_list_every_purpose_and_channel(api: Api) -> None:
    registered = await register(api, fresh_email(), choices=[grant("email")])
    items = (await api.get(f"/v1/people/{registered['person_id']}/consents")).json()["items"]
    states = {(i["purpose"], i["channel"]): i["status"] for i in items}
    assert states[("marketing", "email")] == "granted"
    assert states[("marketing", "sms")] == "none"
    assert states[("testimonial", None)] == "none"
    email_row = next(i for i in items if (i["purpose"], i["channel"]) == ("marketing", "email"))
    assert email_row["notice"] == NOTICE and email_row["basis"] == "consent"
