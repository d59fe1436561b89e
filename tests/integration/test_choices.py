"""Withdrawals, objections, late-arriving events and point-in-time answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.conftest import Api, fresh_email, fresh_mobile
from tests.integration.test_registrations import grant, register


def withdraw(channel: str, purpose: str = "marketing") -> dict[str, object]:
    return {"purpose": purpose, "channel": channel, "decision": "withdrawn"}


async def record(api: Api, person_id: str, choices: list[dict[str, object]], **body: Any) -> Any:
    response = await api.post(
        f"/v1/people/{person_id}/consents", {"choices": choices, "source": "web_form", **body}, scope="forms"
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_withdrawal_denies_at_once_and_administrative_contact_still_flows(api: Api) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    person = (await register(api, email, mobile, [grant("email"), grant("sms")]))["person_id"]
    assert (await api.check("email", email))["allowed"] is True

    await record(api, person, [withdraw("email")])

    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    assert answer["evidence"]["suppression_reason"] == "withdrawn"
    admin = await api.check("email", email, purpose="administrative")
    assert (admin["allowed"], admin["reason"]) == (True, "administrative")
    # Text messages were not withdrawn, so they still flow.
    assert (await api.check("sms", mobile))["allowed"] is True


async def test_an_objection_to_post_taken_on_the_phone_by_a_named_staff_member(api: Api) -> None:
    address = {"lines": [f"{fresh_email()[:20]} Road"], "postcode": "LS1 4AP"}
    response = await api.post(
        "/v1/registrations",
        {"person": {"contacts": [{"kind": "postal", "value": address}]}, "source": "paper_form"},
        scope="forms",
    )
    person = response.json()["person_id"]
    assert (await api.check("post", address))["reason"] == "legitimate_interests"

    response = await api.post(
        f"/v1/people/{person}/consents",
        {
            "choices": [withdraw("post")],
            "source": "phone_call",
            "evidence": {"staff_member": "Priya Shah", "note": "Mum asked for no more leaflets"},
        },
        scope="staff",
    )
    assert response.status_code == 201, response.text

    post = await api.check("post", {"lines": [address["lines"][0].upper()], "postcode": "ls14ap"})
    assert (post["allowed"], post["reason"]) == (False, "suppressed")
    assert post["evidence"]["suppression_reason"] == "objected"
    admin = await api.check("post", address, purpose="administrative")
    assert (admin["allowed"], admin["reason"]) == (True, "administrative")

    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    assert history[-1]["source"] == "phone_call"
    assert history[-1]["evidence"]["staff_member"] == "Priya Shah"
    assert history[-1]["evidence"]["note"] == "Mum asked for no more leaflets"
    state = await api.get(f"/v1/people/{person}/consents")
    post_row = next(
        i for i in state.json()["items"] if i["purpose"] == "marketing" and i["channel"] == "post"
    )
    assert (post_row["status"], post_row["basis"]) == ("withdrawn", "legitimate_interests")


async def test_a_late_arriving_older_grant_does_not_override_a_newer_withdrawal(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email))["person_id"]
    now = datetime.now(UTC)
    withdrawn_at, granted_at = now - timedelta(days=2), now - timedelta(days=10)

    await record(api, person, [withdraw("email")], effective_at=withdrawn_at.isoformat())
    await record(api, person, [grant("email")], source="paper_form", effective_at=granted_at.isoformat())

    now_answer = await api.check("email", email)
    assert now_answer["allowed"] is False
    between = await api.check("email", email, at=(now - timedelta(days=5)).isoformat())
    assert (between["allowed"], between["reason"]) == (True, "consent_granted")
    before = await api.check("email", email, at=(now - timedelta(days=20)).isoformat())
    assert (before["allowed"], before["reason"]) == (False, "no_consent")

    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    assert [e["decision"] for e in history] == ["withdrawn", "granted"]
    past = (await api.get(f"/v1/people/{person}/consents", at=(now - timedelta(days=5)).isoformat())).json()
    row = next(i for i in past["items"] if (i["purpose"], i["channel"]) == ("marketing", "email"))
    assert row["status"] == "granted"


async def test_a_withdrawal_leaves_the_answer_for_a_moment_before_it_allowed(api: Api) -> None:
    """Art 7(3): withdrawing stops what follows, it does not rewrite what was allowed before."""
    email = fresh_email()
    now = datetime.now(UTC)
    person = (await register(api, email))["person_id"]
    await record(api, person, [grant("email")], effective_at=(now - timedelta(days=3)).isoformat())
    minted = await api.post(
        "/v1/unsubscribe-links", {"to": email, "channel": "email", "purpose": "marketing"}, scope="checks"
    )
    unsubscribed = await api.client.post(minted.json()["url"].removeprefix("http://testserver"))
    assert unsubscribed.status_code == 200

    assert (await api.check("email", email))["allowed"] is False
    before = await api.check("email", email, at=(now - timedelta(days=1)).isoformat())
    assert (before["allowed"], before["reason"]) == (True, "consent_granted")
    past = (await api.get(f"/v1/people/{person}/consents", at=(now - timedelta(days=1)).isoformat())).json()
    row = next(i for i in past["items"] if (i["purpose"], i["channel"]) == ("marketing", "email"))
    assert row["status"] == "granted"


async def test_a_tie_in_effective_time_is_won_by_the_withdrawal(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email))["person_id"]
    moment = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await record(api, person, [withdraw("email")], effective_at=moment)
    await record(api, person, [grant("email")], effective_at=moment)
    assert (await api.check("email", email))["allowed"] is False


async def test_the_ledger_is_hash_chained(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email, choices=[grant("email"), grant("sms")]))["person_id"]
    receipt = (await record(api, person, [withdraw("sms")]))["receipt"]
    history = (await api.get(f"/v1/people/{person}/history")).json()["items"]
    # The two grants were written in one transaction, so each links to the one before it.
    assert history[1]["prev_hash"] == history[0]["hash"]
    assert history[1]["seq"] == history[0]["seq"] + 1
    assert history[-1]["hash"] == receipt["events"][0]["hash"]
    assert all(len(e["hash"]) == 64 and e["hash"] != e["prev_hash"] for e in history)
