"""LEGAL #30: a child's testimonial rests on a guardian's consent; an under-13 cannot consent online alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Api, fresh_email
from tests.integration.test_choices import record, withdraw
from tests.integration.test_refusals import snapshot
from tests.integration.test_registrations import grant

TESTIMONIAL = {**grant("email", "testimonial"), "channel": None}


def born_years_ago(years: int) -> str:
    """A month of birth that makes the person ``years`` old, whatever day the test runs (a year back
    from last month, so the birthday has surely passed)."""
    now = datetime.now(UTC)
    year, month = (now.year - years, now.month - 1) if now.month > 1 else (now.year - years - 1, 12)
    return f"{year:04d}-{month:02d}"


async def registering(
    api: Api, age: int, choices: list[dict[str, Any]], source: str = "paper_form", **evidence: Any
) -> Any:
    body: dict[str, Any] = {
        "person": {
            "contacts": [{"kind": "email", "value": fresh_email()}],
            "birth_month": born_years_ago(age),
        },
        "choices": choices,
        "source": source,
        "evidence": {"staff_member": "Sam at the hub", **evidence},
    }
    return await api.post("/v1/registrations", body, scope="forms")


async def a_parent(api: Api) -> str:
    response = await api.post(
        "/v1/people",
        {"contacts": [{"kind": "email", "value": fresh_email()}], "birth_month": born_years_ago(40)},
    )
    assert response.status_code == 201, response.text
    person_id: str = response.json()["id"]
    return person_id


def refused_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


async def test_a_childs_testimonial_given_by_a_guardian_is_recorded_linked_to_both(api: Api) -> None:
    parent = await a_parent(api)
    response = await registering(
        api, 15, [TESTIMONIAL], guardian_id=parent, guardian_relationship="mother", child_assent=True
    )
    assert response.status_code == 201, response.text
    child = response.json()["person_id"]

    [event] = (await api.get(f"/v1/people/{child}/history")).json()["items"]
    assert (event["purpose"], event["decision"]) == ("testimonial", "granted")
    assert event["evidence"]["guardian_id"] == parent
    assert event["evidence"]["guardian_relationship"] == "mother"
    assert event["evidence"]["child_assent"] is True
    assert (await api.get(f"/v1/people/{child}")).json()["birth_month"] == born_years_ago(15)
    assert (await api.check(None, purpose="testimonial", person_id=child))["allowed"] is True


async def test_a_childs_testimonial_without_a_guardian_is_refused_and_nothing_is_written(
    api: Api, database: AsyncEngine
) -> None:
    before = await snapshot(database)
    assert refused_fields(await registering(api, 17, [TESTIMONIAL])) == ["evidence.guardian_id"]
    stranger = "00000000-0000-4000-8000-000000000000"
    no_one = await registering(api, 17, [TESTIMONIAL], guardian_id=stranger, guardian_relationship="father")
    assert refused_fields(no_one) == ["evidence.guardian_id"]
    parent = await a_parent(api)
    assert refused_fields(await registering(api, 17, [TESTIMONIAL], guardian_id=parent)) == [
        "evidence.guardian_relationship"
    ]
    after = await snapshot(database)
    assert {**after, "people": after["people"] - 1, "contact_points": after["contact_points"] - 1} == before

    # An adult's own testimonial needs no one.
    assert (await registering(api, 18, [TESTIMONIAL])).status_code == 201


async def test_a_12_year_olds_own_web_grant_is_refused_and_a_guardians_is_the_route(api: Api) -> None:
    web = {"form_id": "signup", "ip": "192.0.2.1", "user_agent": "test"}
    refused = await registering(api, 12, [grant("email")], source="web_form", **web)
    assert refused_fields(refused) == ["evidence.guardian_id"]

    parent = await a_parent(api)
    by_parent = await registering(
        api,
        12,
        [grant("email")],
        source="web_form",
        guardian_id=parent,
        guardian_relationship="father",
        **web,
    )
    assert by_parent.status_code == 201, by_parent.text
    assert (await registering(api, 13, [grant("email")], source="web_form", **web)).status_code == 201


async def test_a_withdrawal_by_or_for_a_child_is_always_recorded(api: Api) -> None:
    parent = await a_parent(api)
    response = await registering(
        api, 10, [TESTIMONIAL, grant("email")], guardian_id=parent, guardian_relationship="grandmother"
    )
    child = response.json()["person_id"]

    # The child themself, online, with no guardian named: an opt-out is never refused.
    await record(api, child, [withdraw("email"), {**withdraw("email", "testimonial"), "channel": None}])
    assert (await api.check(None, purpose="testimonial", person_id=child))["allowed"] is False
    # And for them, naming a guardian who is not on record: still recorded.
    answer = await record(
        api,
        child,
        [withdraw("email")],
        evidence={"guardian_id": "not-anyone", "guardian_relationship": "aunt"},
    )
    assert [e["decision"] for e in answer["receipt"]["events"]] == ["withdrawn"]


async def test_a_birth_month_corrected_later_holds_a_known_persons_next_grant_to_the_rule(api: Api) -> None:
    person = await api.post("/v1/people", {"contacts": [{"kind": "email", "value": fresh_email()}]})
    child = person.json()["id"]
    corrected = await api.client.patch(
        f"/v1/people/{child}", json={"birth_month": born_years_ago(11)}, headers=api.headers("staff")
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["birth_month"] == born_years_ago(11)

    body = {"choices": [TESTIMONIAL], "source": "in_person", "evidence": {"staff_member": "Sam at the hub"}}
    refused = await api.post(f"/v1/people/{child}/consents", body, scope="staff")
    assert refused_fields(refused) == ["evidence.guardian_id"]
    assert (await api.get(f"/v1/people/{child}/history")).json()["items"] == []
    # A guardian must be someone else on record, not the child naming themself.
    body["evidence"] = {"staff_member": "Sam", "guardian_id": child, "guardian_relationship": "self"}
    assert refused_fields(await api.post(f"/v1/people/{child}/consents", body, scope="staff")) == [
        "evidence.guardian_id"
    ]
