"""A grant is the person's own act, never a box ticked for them or silence (UK GDPR Art 4(11),
Recital 32; COMPLIANCE row 3): refused without it, kept in the hashed evidence, shown wherever the
evidence is; a withdrawal needs none."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.ledger import AffirmativeAction, Decision, Evidence, Source, evidence_digest
from consent_service.services import audit, choices
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from tests.integration.conftest import Api, Fresh, fresh_email, tamper_with_events
from tests.integration.test_choices import record
from tests.integration.test_org_type import collected, soft_opt_in_purpose, soft_opt_in_registration
from tests.integration.test_refusals import snapshot
from tests.integration.test_registrations import grant, register


def unacted(**act: Any) -> dict[str, Any]:
    """An email marketing grant with the act fields as given (none given: neither)."""
    body = {k: v for k, v in grant("email").items() if k not in ("affirmative_action", "pre_ticked")}
    return body | act


@pytest.mark.parametrize(
    ("choice", "fields"),
    [
        (unacted(pre_ticked=False), ["choices[0].affirmative_action"]),
        (unacted(affirmative_action="ticked_box"), ["choices[0].pre_ticked"]),
        (unacted(affirmative_action="ticked_box", pre_ticked=True), ["choices[0].pre_ticked"]),
        (unacted(), ["choices[0].affirmative_action", "choices[0].pre_ticked"]),
    ],
    ids=["no action", "silent on pre-ticking", "pre-ticked", "neither"],
)
async def test_a_grant_without_the_persons_own_act_is_refused_naming_the_field_and_writes_nothing(
    api: Api, database: AsyncEngine, choice: dict[str, Any], fields: list[str]
) -> None:
    email = fresh_email()
    person = (await register(api, email))["person_id"]
    before = await snapshot(database)

    response = await api.post(
        f"/v1/people/{person}/consents", {"choices": [choice], "source": "web_form"}, scope="forms"
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert await snapshot(database) == before
    assert (await api.check("email", email))["reason"] == "no_consent"


async def test_a_withdrawal_needs_neither_and_is_recorded_at_once(api: Api) -> None:
    email = fresh_email()
    person = (await register(api, email, None, [grant("email")]))["person_id"]

    done = await record(api, person, [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}])

    [event] = done["receipt"]["events"]
    assert (event["evidence_complete"], event["evidence_gaps"]) == (True, [])
    assert (await api.check("email", email))["allowed"] is False
    shown = (await api.get(f"/v1/people/{person}/events/{event['id']}")).json()
    assert (shown["affirmative_action"], shown["pre_ticked"]) == (None, None)


async def test_the_act_is_in_the_hashed_evidence_and_shown_wherever_the_evidence_is(api: Api) -> None:
    person = (
        await register(api, fresh_email(), None, [grant("email") | {"affirmative_action": "chose_yes"}])
    )["person_id"]
    [event] = (await api.get(f"/v1/people/{person}/history")).json()["items"]

    shown = (await api.get(f"/v1/people/{person}/events/{event['id']}")).json()
    assert (shown["affirmative_action"], shown["pre_ticked"]) == ("chose_yes", False)
    assert (event["evidence"]["affirmative_action"], event["evidence"]["pre_ticked"]) == ("chose_yes", False)
    receipt = (await api.get(f"/v1/people/{person}/receipts/{event['id']}", scope="forms")).json()
    assert (receipt["affirmativeAction"], receipt["preTicked"]) == ("chose_yes", False)
    held = (await api.get(f"/v1/people/{person}/consent-record", scope="admin")).json()
    [given] = held["event"]
    assert (given["affirmative_action"], given["pre_ticked"]) == ("chose_yes", False)


async def test_the_hash_chain_covers_the_act_so_ticking_it_afterwards_is_found(fresh: Fresh) -> None:
    ctx = fresh.context
    done = await choices.register(
        ctx,
        choices.Register(
            PersonInput(contacts=[ContactInput(ContactKind.EMAIL, fresh_email())]),
            ChoicesInput(
                [
                    ChoiceInput(
                        "marketing",
                        Channel.EMAIL,
                        Decision.GRANTED,
                        ("marketing", 1),
                        affirmative_action=AffirmativeAction.SAID_YES,
                        pre_ticked=False,
                    )
                ],
                Source.IN_PERSON,
                "t",
                evidence=Evidence(staff_member="Priya Shah"),
            ),
        ),
    )
    [event] = done.events
    assert event.evidence_hash == evidence_digest(event.evidence)
    assert (await audit.verify(ctx)).intact
    rewritten = event.evidence.as_dict() | {"affirmative_action": "ticked_box"}
    # As someone with the database owner's rights tidying the record would (the triggers refuse it first).
    await tamper_with_events(
        fresh.url,
        "UPDATE consent_events SET evidence = :evidence WHERE id = :id",
        evidence=json.dumps(rewritten),
        id=event.id,
    )
    report = await audit.verify(ctx)
    assert report.broken is not None and report.broken.id == event.id


async def test_a_soft_opt_in_needs_no_act_as_its_collection_context_is_its_proof(api: Api) -> None:
    """Not consent (PECR reg 22(3A)): nothing to tick, so nothing is asked; the same grant without
    the context is consent, and needs its act."""
    code = await soft_opt_in_purpose(api)
    email = fresh_email()
    body = soft_opt_in_registration(code, email, collected("supporter", collected_on="2026-03-01"))
    made = await api.post("/v1/registrations", body, scope="forms")
    assert made.status_code == 201, made.text
    answer = await api.check("email", email, purpose=code)
    assert (answer["allowed"], answer["reason"]) == (True, "soft_opt_in")
    [event] = made.json()["receipt"]["events"]
    shown = (await api.get(f"/v1/people/{made.json()['person_id']}/events/{event['id']}")).json()
    assert (shown["affirmative_action"], shown["pre_ticked"]) == (None, None)

    consent = soft_opt_in_registration(code, fresh_email(), {})
    del consent["choices"][0]["collection_context"]
    refused = await api.post("/v1/registrations", consent, scope="forms")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == [
        "choices[0].affirmative_action",
        "choices[0].pre_ticked",
    ]
