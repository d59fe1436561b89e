"""An opt-out is never refused for its paperwork (DESIGN §4.1); a grant still is, field by field.

A mailing tool forwarding a "please stop" reply, or a form posting a withdrawal late, must not lose
it: the withdrawal, objection or suppression is recorded, the event says what was missing, and the
next check denies. The same gaps on a grant are refused with 422 and change nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.ledger import Decision, Source
from consent_service.services import audit, choices
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.staff import create_account
from tests.integration.conftest import Api, Fresh, fresh_email, fresh_mobile, tamper_with_events
from tests.integration.test_choices import withdraw
from tests.integration.test_registrations import grant, register
from tests.integration.test_staff_pages import PASSWORD, Staff, family, signed_in
from tests.integration.test_transfer import _postgres_before_fresh  # noqa: F401  (autouse, for ``fresh``)


async def consents(api: Api, person: str, choices: list[dict[str, Any]], **body: Any) -> httpx.Response:
    response: httpx.Response = await api.post(
        f"/v1/people/{person}/consents", {"choices": choices, **body}, scope="staff"
    )
    return response


async def history(api: Api, person: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    return items


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def test_a_forwarded_please_stop_email_without_a_staff_member_is_recorded_and_denies(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    assert (await api.check("email", email))["allowed"] is True

    answer = await consents(api, person, [withdraw("email")], source="email")

    assert answer.status_code == 201, answer.text
    [event] = answer.json()["receipt"]["events"]
    assert (event["decision"], event["evidence_complete"], event["evidence_gaps"]) == (
        "withdrawn",
        False,
        ["staff_member"],
    )
    check = await api.check("email", email)
    assert (check["allowed"], check["reason"]) == (False, "suppressed")
    last = (await history(api, person))[-1]
    assert (last["id"], last["evidence_gaps"], last["evidence_complete"]) == (
        event["id"],
        ["staff_member"],
        False,
    )
    listed = (await api.get("/v1/suppressions/lookup", to=email, channel="email")).json()["items"]
    assert [e["evidence_gaps"] for e in listed if e["lifted_at"] is None] == [["staff_member"]]


async def test_a_withdrawal_back_dated_without_a_note_keeps_its_date_and_names_the_gap(api: Api) -> None:
    email = fresh_email()
    body = {
        "person": {"contacts": [{"kind": "email", "value": email}]},
        "choices": [grant("email")],
        "source": "web_form",
        "effective_at": days_ago(10),
    }
    person = (await api.post("/v1/registrations", body, scope="forms")).json()["person_id"]
    assert (await api.check("email", email))["allowed"] is True
    said = days_ago(3)

    answer = await consents(
        api,
        person,
        [withdraw("email")],
        source="letter",
        effective_at=said,
        evidence={"staff_member": "Sam Okafor"},
    )

    assert answer.status_code == 201, answer.text
    [event] = answer.json()["receipt"]["events"]
    assert event["evidence_gaps"] == ["note"]
    assert datetime.fromisoformat(event["effective_at"]) == datetime.fromisoformat(said)
    assert (await api.check("email", email))["allowed"] is False


async def test_an_objection_to_post_by_phone_with_no_paperwork_at_all_is_recorded(api: Api) -> None:
    address = {"lines": [f"{fresh_email()[:20]} Road"], "postcode": "LS1 4AP"}
    registered = await api.post(
        "/v1/registrations",
        {"person": {"contacts": [{"kind": "postal", "value": address}]}, "source": "paper_form"},
        scope="forms",
    )
    person = registered.json()["person_id"]
    assert (await api.check("post", address))["allowed"] is True

    answer = await consents(api, person, [withdraw("post")], source="phone_call", effective_at=days_ago(4))

    assert answer.status_code == 201, answer.text
    assert answer.json()["receipt"]["events"][0]["evidence_gaps"] == ["staff_member", "note"]
    post = await api.check("post", address)
    assert (post["allowed"], post["evidence"]["suppression_reason"]) == (False, "objected")
    assert (await api.check("post", address, purpose="administrative"))["allowed"] is True


async def test_a_grant_with_the_same_gaps_is_refused_field_by_field_and_changes_nothing(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email, choices=[]))["person_id"]
    before = await history(api, person)

    refused = await consents(api, person, [grant("email")], source="phone_call", effective_at=days_ago(3))

    assert refused.status_code == 422, refused.text
    fields = [e["field"] for e in refused.json()["errors"]]
    assert fields == ["evidence.staff_member", "evidence.note"]
    assert await history(api, person) == before
    assert (await api.check("email", email))["allowed"] is False


async def test_a_call_mixing_a_grant_lacking_paperwork_and_a_withdrawal_is_refused_whole(
    api: Api,
) -> None:
    """Documented in DESIGN §4.1: the grant holds the call to its rules; the same withdrawal alone is kept."""
    email, mobile = fresh_email(), fresh_mobile()
    person = (await register(api, email, mobile, [grant("sms")]))["person_id"]

    mixed = await consents(api, person, [grant("email"), withdraw("sms")], source="email")
    assert mixed.status_code == 422
    assert [e["field"] for e in mixed.json()["errors"]] == ["evidence.staff_member"]
    assert (await api.check("sms", mobile))["allowed"] is True

    alone = await consents(api, person, [withdraw("sms")], source="email")
    assert alone.status_code == 201, alone.text
    assert (await api.check("sms", mobile))["allowed"] is False


async def test_a_withdrawal_of_an_unknown_purpose_stops_all_marketing_on_its_channel(
    api: Api,
) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    person = (await register(api, email, mobile, [grant("email"), grant("sms")]))["person_id"]

    answer = await consents(api, person, [withdraw("email", purpose="newsletters")], source="web_form")

    assert answer.status_code == 201, answer.text
    events = answer.json()["receipt"]["events"]
    # Other tests share this catalogue and add marketing purposes of their own: each is covered too.
    assert ("marketing", "email", ["purpose"]) in [
        (e["purpose"], e["channel"], e["evidence_gaps"]) for e in events
    ]
    assert {(e["channel"], tuple(e["evidence_gaps"])) for e in events} == {("email", ("purpose",))}
    assert (await api.check("email", email))["allowed"] is False
    assert (await api.check("sms", mobile))["allowed"] is True, "only the channel named is stopped"


async def test_a_withdrawal_on_a_channel_its_purpose_does_not_use_covers_the_purpose(api: Api) -> None:
    email = fresh_email()
    story: dict[str, object] = {
        "purpose": "testimonial",
        "decision": "granted",
        "affirmative_action": "ticked_box",
        "pre_ticked": False,
        "notice": {"purpose": "testimonial", "version": 1},
    }
    person = (await register(api, email, choices=[grant("email"), story]))["person_id"]

    answer = await consents(api, person, [withdraw("email", purpose="testimonial")], source="web_form")

    assert answer.status_code == 201, answer.text
    events = answer.json()["receipt"]["events"]
    assert [(e["purpose"], e["channel"], e["evidence_gaps"]) for e in events] == [
        ("testimonial", None, ["channel"])
    ]
    state = (await api.get(f"/v1/people/{person}/consents")).json()["items"]
    assert [i["status"] for i in state if i["purpose"] == "testimonial"] == ["withdrawn"]
    assert (await api.check("email", email))["allowed"] is True, "marketing email was not withdrawn"


async def test_a_withdrawal_naming_a_missing_notice_or_a_future_date_is_recorded_too(
    api: Api,
) -> None:
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email")]))["person_id"]
    choice = withdraw("email") | {"notice": {"purpose": "marketing", "version": 999}}
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()

    answer = await consents(api, person, [choice], source="web_form", effective_at=later)

    assert answer.status_code == 201, answer.text
    [event] = answer.json()["receipt"]["events"]
    assert event["evidence_gaps"] == ["effective_at", "notice"]
    assert datetime.fromisoformat(event["effective_at"]) <= datetime.now(UTC), "it took effect at once"
    assert (await api.check("email", email))["allowed"] is False


async def test_a_suppression_naming_an_unknown_purpose_is_added_for_every_purpose(api: Api) -> None:
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    assert (await api.check("email", email))["allowed"] is True

    added = await api.post(
        "/v1/suppressions",
        {"to": email, "channel": "email", "reason": "staff_request", "purpose": "newsletterz"},
    )

    assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["purpose"], entry["evidence_complete"], entry["evidence_gaps"]) == (
        None,
        False,
        ["purpose"],
    )
    assert (await api.check("email", email))["allowed"] is False
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True


async def test_the_staff_person_page_names_the_missing_paperwork(
    api: Api, fresh_client: httpx.AsyncClient
) -> None:
    member = Staff(f"staff.{uuid.uuid4().hex[:10]}", "Sam Caller")
    await create_account(api.context, member.username, member.display_name, PASSWORD)
    person = await family(api)
    answer = await consents(
        api, person.person_id, [withdraw("email")], source="email", effective_at=days_ago(2)
    )
    assert answer.status_code == 201, answer.text
    await signed_in(fresh_client, member)

    page = await fresh_client.get(f"/staff/people/{person.person_id}")

    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "1 choice was recorded with paperwork missing" in text
    assert "Incomplete:</strong> no staff member named; back-dated without a reason" in text


async def test_audit_verify_covers_the_gaps_so_hiding_them_is_found(fresh: Fresh) -> None:
    ctx = fresh.context
    done = await choices.register(
        ctx,
        choices.Register(
            PersonInput(contacts=[ContactInput(ContactKind.EMAIL, fresh_email())]),
            ChoicesInput([ChoiceInput("marketing", Channel.EMAIL, Decision.WITHDRAWN)], Source.EMAIL, "t"),
        ),
    )
    [event] = done.events
    assert event.evidence_gaps == ("staff_member",)
    assert (await audit.verify(ctx)).intact
    # As the database's owner tidying the record would: past the append-only triggers.
    await tamper_with_events(
        fresh.url, "UPDATE consent_events SET evidence_gaps = '[]' WHERE id = :id", id=event.id
    )
    report = await audit.verify(ctx)
    assert report.broken is not None and report.broken.id == event.id
