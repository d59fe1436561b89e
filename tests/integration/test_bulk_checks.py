"""A bulk check answers each address exactly as a single check of it does, whatever the store holds."""

from __future__ import annotations

from typing import Any

from consent_service.domain.channels import Channel
from consent_service.services import checks
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register
from tests.integration.test_suppressions import suppress

WITHDRAW = {"purpose": "marketing", "channel": "email", "decision": "withdrawn"}


async def withdraw(api: Api, person: str) -> None:
    response = await api.post(
        f"/v1/people/{person}/consents", {"choices": [WITHDRAW], "source": "web_form"}, scope="forms"
    )
    assert response.status_code == 201, response.text


async def every_kind_of_address(api: Api) -> list[Any]:
    """An address of each kind the decision tells apart, some spelled as a mailing tool might."""
    granted, withdrawn, unasked = fresh_email(), fresh_email(), fresh_email()
    await register(api, granted, choices=[grant("email")])
    await withdraw(api, (await register(api, withdrawn, choices=[grant("email")]))["person_id"])
    await register(api, unasked)

    shared_allowed, shared_denied = fresh_email(), fresh_email()
    for address in (shared_allowed, shared_allowed, shared_denied):
        await register(api, address, choices=[grant("email")])
    await withdraw(api, (await register(api, shared_denied, choices=[grant("email")]))["person_id"])

    erased, back_after_erasure = fresh_email(), fresh_email()
    for address in (erased, back_after_erasure):
        person = (await register(api, address, choices=[grant("email")]))["person_id"]
        done = await api.post(f"/v1/people/{person}/erasure", {"reason": "asked"}, scope="admin")
        assert done.status_code == 200, done.text
    await register(api, back_after_erasure, choices=[grant("email")])

    restricted = fresh_email()
    person = (await register(api, restricted, choices=[grant("email")]))["person_id"]
    added = await api.post(
        f"/v1/people/{person}/restrictions", {"channel": "all", "reason": "safeguarding"}, scope="staff"
    )
    assert added.status_code == 201, added.text

    complained, bounced, granted_then_bounced = fresh_email(), fresh_email(), fresh_email()
    await suppress(api, complained)
    await suppress(api, bounced, reason="hard_bounce")
    await register(api, granted_then_bounced, choices=[grant("email")])
    await suppress(api, granted_then_bounced, reason="hard_bounce")

    known = [
        granted,
        withdrawn,
        unasked,
        shared_allowed,
        shared_denied,
        erased,
        back_after_erasure,
        restricted,
        complained,
        bounced,
        granted_then_bounced,
    ]
    return [
        *known,
        fresh_email(),  # held for nobody
        fresh_email(),
        "not-an-address",
        {"lines": ["1 Any Street"], "postcode": "SW1A 1AA"},  # not an email
        f"  {granted.upper()} ",
        withdrawn,  # twice in one list
        unasked.upper(),
    ]


async def test_each_bulk_answer_is_the_single_answer(api: Api) -> None:
    addresses = await every_kind_of_address(api)
    for purpose in ("marketing", "administrative"):
        bulk = await api.post(
            "/v1/checks/bulk", {"purpose": purpose, "channel": "email", "to": addresses}, scope="checks"
        )
        assert bulk.status_code == 200, bulk.text
        results = bulk.json()["results"]
        assert [r["to"] for r in results] == addresses
        single = []
        for address in addresses:
            response = await api.post(
                "/v1/checks", {"purpose": purpose, "channel": "email", "to": address}, scope="checks"
            )
            if response.status_code == 422:  # an invalid address is refused alone, denied in a list
                single.append((False, "contact_invalid"))
            else:
                single.append((response.json()["allowed"], response.json()["reason"]))
        assert [(r["allowed"], r["reason"]) for r in results] == single, purpose
    # Every kind really is in the list (a mix that collapsed to one reason would prove little); a
    # withdrawal shows as the suppression it made.
    answered = await checks.check_many(api.context, "marketing", Channel.EMAIL, addresses)
    assert {a.reason.value for a in answered} >= {
        "consent_granted",
        "no_consent",
        "person_erased",
        "contact_restricted",
        "suppressed",
        "contact_invalid",
    }
