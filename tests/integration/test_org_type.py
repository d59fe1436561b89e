"""LEGAL #9, #10, #17 on both backends: what the organisation is in law (CONSENT_ORG_TYPE) decides
which soft opt-in it may rely on and whether it may have public-task purposes. The shared app is a
charity (the default); other types are the same store and catalogue with the context's type changed,
as a deployment with that setting would have."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from consent_service.domain.absent import NoAnswerCache
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.ledger import AffirmativeAction, Decision, Source
from consent_service.domain.purposes import Basis, Category, OrgType, Purpose
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope
from consent_service.services import catalogue, checks, choices, suppressions
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.context import Context
from tests.integration.conftest import Api, Fresh, fresh_email

#: A grant ticked on a form, as the people in these tests gave theirs.
TICKED = AffirmativeAction.TICKED_BOX

WORDING = "Untick this box if you would rather not hear about our appeals."


def collected(relationship: str, **more: Any) -> dict[str, Any]:
    return {"relationship": relationship, "opt_out_offered": True, "opt_out_wording": WORDING, **more}


# Through the API, as the default charity


async def soft_opt_in_purpose(api: Api) -> str:
    code = f"appeals_{secrets.token_hex(4)}"
    body = {"code": code, "category": "marketing", "bases": {"email": "soft_opt_in"}}
    assert (await api.post("/v1/purposes", body, "admin")).status_code == 201
    assert (
        await api.post("/v1/notices", {"purpose": code, "text": "Our appeals"}, "admin")
    ).status_code == 201
    return code


def soft_opt_in_registration(code: str, email: str, context: dict[str, Any]) -> dict[str, Any]:
    """A web form's registration granting ``code`` by email on a soft opt-in collected as ``context``:
    no affirmative act, as a soft opt-in is not consent (its collection context is its proof)."""
    choice = {
        "purpose": code,
        "channel": "email",
        "decision": "granted",
        "notice": {"purpose": code, "version": 1},
        "collection_context": context,
    }
    return {
        "person": {"contacts": [{"kind": "email", "value": email}]},
        "choices": [choice],
        "source": "web_form",
    }


async def registered_with(api: Api, code: str, context: dict[str, Any]) -> str:
    email = fresh_email()
    response = await api.post(
        "/v1/registrations", soft_opt_in_registration(code, email, context), scope="forms"
    )
    assert response.status_code == 201, response.text
    return email


async def test_a_charitys_soft_opt_in_holds_with_its_conditions_recorded(api: Api) -> None:
    code = await soft_opt_in_purpose(api)
    email = await registered_with(api, code, collected("enquirer", collected_on="2026-02-05"))
    answer = await api.check("email", email, purpose=code)
    assert (answer["allowed"], answer["reason"], answer["basis"]) == (True, "soft_opt_in", "soft_opt_in")


async def test_a_charitys_soft_opt_in_is_denied_naming_the_condition_that_failed(api: Api) -> None:
    code = await soft_opt_in_purpose(api)
    cases = {
        "soft_opt_in_before_2026_02_05": collected("supporter", collected_on="2026-02-04"),
        "soft_opt_in_no_qualifying_relationship": collected("service_user"),
        "soft_opt_in_not_company": collected("customer"),
    }
    for reason, context in cases.items():
        answer = await api.check("email", await registered_with(api, code, context), purpose=code)
        assert (reason, answer["allowed"], answer["reason"]) == (reason, False, reason)


async def test_a_soft_opt_in_without_the_opt_out_wording_is_refused_and_records_nothing(api: Api) -> None:
    code = await soft_opt_in_purpose(api)
    email = fresh_email()
    unworded = {"relationship": "supporter", "opt_out_offered": True}
    body = soft_opt_in_registration(code, email, unworded)
    refused = await api.post("/v1/registrations", body, scope="forms")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "choices[0].collection_context.opt_out_wording"
    assert (await api.get("/v1/people", email=email)).json()["items"] == []


async def test_a_charity_may_not_define_a_public_task_purpose(api: Api) -> None:
    code = f"bins_{secrets.token_hex(4)}"
    body = {"code": code, "category": "public_task", "bases": {"email": "public_task"}}
    refused = await api.post("/v1/purposes", body, "admin")
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "category" and "public_authority" in error["message"]
    purposes = (await api.get("/v1/purposes", scope="admin")).json()["items"]
    assert code not in {p["code"] for p in purposes}


# The same store as a company and as a public authority


def as_type(fresh: Fresh, org: OrgType) -> Context:
    """The store as an organisation of type ``org`` would use it. Without the answer cache: one
    deployment has one type, so its cache never holds another type's answer, but these three share."""
    return replace(fresh.context, org_type=org, answers=NoAnswerCache())


async def register(ctx: Context, code: str, context: dict[str, Any] | None = None) -> str:
    email = fresh_email()
    choice = ChoiceInput(
        code, Channel.EMAIL, Decision.GRANTED, (code, 1), context, affirmative_action=TICKED, pre_ticked=False
    )
    person = PersonInput(contacts=[ContactInput(ContactKind.EMAIL, email)])
    await choices.register(ctx, choices.Register(person, ChoicesInput([choice], Source.WEB_FORM, "form")))
    return email


async def answer(ctx: Context, code: str, email: str) -> tuple[bool, str]:
    found = await checks.check(ctx, checks.CheckInput(code, Channel.EMAIL, email))
    return found.allowed, found.reason.value


async def test_the_soft_opt_in_follows_the_organisation_type(fresh: Fresh) -> None:
    charity = as_type(fresh, OrgType.CHARITY)
    company = as_type(fresh, OrgType.COMPANY)
    authority = as_type(fresh, OrgType.PUBLIC_AUTHORITY)
    appeals = Purpose("appeals", Category.MARKETING, {Channel.EMAIL: Basis.SOFT_OPT_IN})
    await catalogue.add_purpose(charity.catalogue, charity.clock, appeals)
    await catalogue.add_notice(charity.catalogue, charity.clock, "appeals", "Our appeals", "en", None)

    supporter = await register(charity, "appeals", collected("supporter", collected_on="2026-03-01"))
    customer = await register(charity, "appeals", collected("negotiation"))

    assert await answer(charity, "appeals", supporter) == (True, "soft_opt_in")
    assert await answer(company, "appeals", supporter) == (False, "soft_opt_in_not_charity")
    assert await answer(authority, "appeals", supporter) == (False, "soft_opt_in_not_charity")
    assert await answer(company, "appeals", customer) == (True, "soft_opt_in")
    assert await answer(charity, "appeals", customer) == (False, "soft_opt_in_not_company")


async def test_public_task_information_is_a_public_authoritys_alone(fresh: Fresh) -> None:
    authority = as_type(fresh, OrgType.PUBLIC_AUTHORITY)
    charity = as_type(fresh, OrgType.CHARITY)
    bins = Purpose("bin_days", Category.PUBLIC_TASK, {Channel.EMAIL: Basis.PUBLIC_TASK})
    await catalogue.add_purpose(authority.catalogue, authority.clock, bins, OrgType.PUBLIC_AUTHORITY)
    email = fresh_email()
    await choices.register(
        authority,
        choices.Register(
            PersonInput(contacts=[ContactInput(ContactKind.EMAIL, email)]),
            ChoicesInput([], Source.WEB_FORM, "form"),
        ),
    )
    # An objection to all marketing is not an objection to the council's public task.
    objection = suppressions.SuppressionInput(
        email, None, SuppressionScope.MARKETING, SuppressionReason.OBJECTED, "staff:ana"
    )
    await suppressions.suppress(authority, objection)

    assert await answer(authority, "bin_days", email) == (True, "public_task")
    assert await answer(charity, "bin_days", email) == (False, "public_task_not_public_authority")
    assert await answer(authority, "marketing", email) == (False, "suppressed")
