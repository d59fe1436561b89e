"""Simultaneous writes about one person must all land, in one chain, without a duplicate-key error."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant


async def test_two_forms_registering_the_same_reference_at_once_find_one_person(api: Api) -> None:
    reference = f"case-{fresh_email()}"
    emails = [fresh_email() for _ in range(4)]
    bodies = [
        {
            "person": {"reference": reference, "contacts": [{"kind": "email", "value": email}]},
            "choices": [grant("email")],
            "source": "web_form",
        }
        for email in emails
    ]
    responses = await asyncio.gather(*(api.post("/v1/registrations", b, scope="forms") for b in bodies))

    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert len({r.json()["person_id"] for r in responses}) == 1
    person = (await api.get(f"/v1/people/{responses[0].json()['person_id']}")).json()
    assert sorted(c["value"] for c in person["contacts"]) == sorted(emails)
    history = (await api.get(f"/v1/people/{person['id']}/history")).json()["items"]
    assert len(history) == 4
    for email in emails:
        assert (await api.check("email", email))["allowed"] is True


async def test_the_same_idempotency_key_sent_twice_at_once_records_once(api: Api) -> None:
    body = {
        "person": {"contacts": [{"kind": "email", "value": fresh_email()}]},
        "choices": [grant("email"), grant("sms")],
        "source": "web_form",
    }
    key = {"Idempotency-Key": fresh_email()}
    first, second = await asyncio.gather(
        api.post("/v1/registrations", body, scope="forms", **key),
        api.post("/v1/registrations", body, scope="forms", **key),
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    history = (await api.get(f"/v1/people/{first.json()['person_id']}/history")).json()["items"]
    assert len(history) == 2
