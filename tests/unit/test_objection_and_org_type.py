"""LEGAL #6, #9, #10, #14, #17 as pure rules: an objection to all marketing is absolute and re-opened
only by the person's own grant, one purpose and channel at a time; which soft opt-in an organisation
may rely on, and whether it may have public-task purposes, follow from what it is in law."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.decision import Facts, Reason, may_contact
from consent_service.domain.errors import InvalidInput
from consent_service.domain.ledger import CurrentConsent, Decision, Source
from consent_service.domain.purposes import (
    DEFAULT_CATALOGUE,
    Basis,
    Catalogue,
    Category,
    OrgType,
    Purpose,
    check_category,
)
from consent_service.domain.suppressions import Suppression, SuppressionReason, SuppressionScope

EMAIL, SMS, PHONE, POST = Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST
CHARITY, COMPANY, AUTHORITY = OrgType.CHARITY, OrgType.COMPANY, OrgType.PUBLIC_AUTHORITY
JAN = datetime(2026, 1, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)

_DEFAULTS = Catalogue.of(DEFAULT_CATALOGUE)
MARKETING = _DEFAULTS.purposes["marketing"]
ADMINISTRATIVE = _DEFAULTS.purposes["administrative"]
NEWSLETTER = Purpose("newsletter", Category.MARKETING, dict.fromkeys(Channel, Basis.CONSENT))
EVENTS = Purpose(
    "events", Category.MARKETING, {**dict.fromkeys(Channel, Basis.CONSENT), POST: Basis.LEGITIMATE_INTERESTS}
)
FUNDRAISING = Purpose("fundraising", Category.MARKETING, {EMAIL: Basis.SOFT_OPT_IN, SMS: Basis.SOFT_OPT_IN})
BIN_DAYS = Purpose("bin_days", Category.PUBLIC_TASK, {EMAIL: Basis.PUBLIC_TASK, POST: Basis.PUBLIC_TASK})
MARKETING_PURPOSES = [MARKETING, NEWSLETTER, EVENTS]


def objection(at: datetime = MAR) -> Suppression:
    """ "Object to all marketing": every marketing purpose, every channel."""
    return Suppression(
        id="objection-1",
        fingerprint="f" * 64,
        channel=None,
        scope=SuppressionScope.MARKETING,
        reason=SuppressionReason.OBJECTED,
        purpose=None,
        source="phone_call",
        actor="staff:ana",
        effective_at=at,
        recorded_at=at,
    )


def grant(
    purpose: str = "newsletter",
    channel: Channel | None = EMAIL,
    at: datetime = APR,
    source: Source = Source.PREFERENCE_CENTRE,
    notice_id: str | None = "notice-1",
    context: dict[str, Any] | None = None,
) -> CurrentConsent:
    return CurrentConsent(purpose, channel, Decision.GRANTED, at, "event-1", notice_id, source, context)


# Objection (LEGAL #6, #14)


EVERY_MARKETING_USE = [(p, c) for p in MARKETING_PURPOSES for c in p.channels if c is not None]


@pytest.mark.parametrize(
    ("purpose", "channel"), EVERY_MARKETING_USE, ids=[f"{p.code}-{c}" for p, c in EVERY_MARKETING_USE]
)
def test_an_objection_to_all_marketing_denies_every_marketing_purpose_and_channel(
    purpose: Purpose, channel: Channel
) -> None:
    answer = may_contact(purpose, channel, Facts(suppressions=[objection()]), MAY)
    assert (answer.allowed, answer.reason) == (False, Reason.SUPPRESSED)


def test_post_on_legitimate_interests_is_allowed_until_the_person_objects() -> None:
    assert may_contact(MARKETING, POST, Facts(), MAY).reason is Reason.LEGITIMATE_INTERESTS
    denied = may_contact(MARKETING, POST, Facts(suppressions=[objection()]), MAY)
    assert (denied.allowed, denied.reason) == (False, Reason.SUPPRESSED)


@pytest.mark.parametrize("channel", list(Channel), ids=lambda c: c.value)
def test_an_objection_to_marketing_leaves_administrative_messages(channel: Channel) -> None:
    answer = may_contact(ADMINISTRATIVE, channel, Facts(suppressions=[objection()]), MAY)
    assert (answer.allowed, answer.reason) == (True, Reason.ADMINISTRATIVE)


def test_the_persons_fresh_grant_reopens_that_purpose_and_channel_only() -> None:
    facts = Facts(grant("newsletter", EMAIL), [objection()])
    assert may_contact(NEWSLETTER, EMAIL, facts, MAY).reason is Reason.CONSENT_GRANTED
    # Every other purpose and channel stays objected to: their own state is not a fresh grant.
    assert may_contact(NEWSLETTER, SMS, Facts(None, [objection()]), MAY).reason is Reason.SUPPRESSED
    assert may_contact(EVENTS, EMAIL, Facts(None, [objection()]), MAY).reason is Reason.SUPPRESSED
    assert may_contact(EVENTS, POST, Facts(None, [objection()]), MAY).reason is Reason.SUPPRESSED


@pytest.mark.parametrize(
    "stale",
    [
        grant(at=JAN),
        grant(at=MAR),
        grant(source=Source.IMPORT),
        grant(notice_id=None),
        replace(grant(), decision=Decision.WITHDRAWN),
    ],
    ids=["granted before the objection", "at the same moment", "an import", "no notice", "a withdrawal"],
)
def test_nothing_but_a_later_grant_by_the_person_with_its_notice_reopens(stale: CurrentConsent) -> None:
    answer = may_contact(NEWSLETTER, EMAIL, Facts(stale, [objection()]), MAY)
    assert (answer.allowed, answer.reason) == (False, Reason.SUPPRESSED)


def test_a_point_in_time_answer_before_the_regrant_still_says_objected() -> None:
    answer = may_contact(NEWSLETTER, EMAIL, Facts(None, [objection()]), datetime(2026, 3, 15, tzinfo=UTC))
    assert answer.reason is Reason.SUPPRESSED


def test_a_fresh_grant_does_not_reopen_an_unsubscribe_or_complaint_it_does_not_lift() -> None:
    # Only objections are re-opened in the decision; others are lifted (or not) on the record.
    complaint = replace(objection(), reason=SuppressionReason.COMPLAINT)
    assert may_contact(NEWSLETTER, EMAIL, Facts(grant(), [complaint]), MAY).reason is Reason.SUPPRESSED


# Soft opt-in by organisation type (LEGAL #9, #10)

WORDING = "If you would rather not hear about our other groups, tick here."


def soft(relationship: str, **more: Any) -> dict[str, Any]:
    return {
        "relationship": relationship,
        "opt_out_offered": True,
        "opt_out_wording": WORDING,
        "collected_on": "2026-02-05",
        **more,
    }


def soft_answer(context: dict[str, Any], org: OrgType, at: datetime = APR) -> tuple[bool, Reason]:
    consent = grant("fundraising", EMAIL, at=at, source=Source.IMPORT, context=context)
    answer = may_contact(FUNDRAISING, EMAIL, Facts(consent), MAY, org)
    return answer.allowed, answer.reason


@pytest.mark.parametrize("relationship", ["supporter", "enquirer"])
def test_a_charity_may_rely_on_its_soft_opt_in_from_2026_02_05(relationship: str) -> None:
    assert soft_answer(soft(relationship), CHARITY) == (True, Reason.SOFT_OPT_IN)


@pytest.mark.parametrize("org", [COMPANY, AUTHORITY])
def test_the_charity_soft_opt_in_is_denied_to_any_other_organisation(org: OrgType) -> None:
    assert soft_answer(soft("supporter"), org) == (False, Reason.SOFT_OPT_IN_NOT_CHARITY)


def test_charity_details_collected_before_2026_02_05_are_denied() -> None:
    assert soft_answer(soft("supporter", collected_on="2026-02-04"), CHARITY) == (
        False,
        Reason.SOFT_OPT_IN_BEFORE_2026_02_05,
    )


def test_without_a_collection_date_the_day_the_soft_opt_in_took_effect_counts() -> None:
    undated = {k: v for k, v in soft("supporter").items() if k != "collected_on"}
    assert soft_answer(undated, CHARITY, at=JAN) == (False, Reason.SOFT_OPT_IN_BEFORE_2026_02_05)
    assert soft_answer(undated, CHARITY, at=APR) == (True, Reason.SOFT_OPT_IN)


@pytest.mark.parametrize(
    "context",
    [
        soft("supporter", opt_out_wording=None),
        soft("supporter", opt_out_wording="  "),
        soft("supporter", opt_out_offered=False),
        soft("customer", opt_out_wording=None),
    ],
    ids=["no wording", "blank wording", "not offered", "commercial, no wording"],
)
def test_a_soft_opt_in_without_the_opt_out_offered_and_worded_is_denied(context: dict[str, Any]) -> None:
    org = COMPANY if context["relationship"] == "customer" else CHARITY
    assert soft_answer(context, org) == (False, Reason.SOFT_OPT_IN_NO_OPT_OUT_OFFERED)


@pytest.mark.parametrize("relationship", ["customer", "negotiation"])
def test_a_company_may_rely_on_details_from_a_sale_or_its_negotiation(relationship: str) -> None:
    assert soft_answer(soft(relationship), COMPANY) == (True, Reason.SOFT_OPT_IN)


@pytest.mark.parametrize("org", [CHARITY, AUTHORITY])
def test_the_commercial_soft_opt_in_is_denied_to_any_other_organisation(org: OrgType) -> None:
    assert soft_answer(soft("customer"), org) == (False, Reason.SOFT_OPT_IN_NOT_COMPANY)


@pytest.mark.parametrize("org", list(OrgType))
def test_a_service_user_relationship_backs_no_soft_opt_in(org: OrgType) -> None:
    assert soft_answer(soft("service_user"), org) == (False, Reason.SOFT_OPT_IN_NO_QUALIFYING_RELATIONSHIP)


def test_an_explicit_consent_on_a_soft_opt_in_purpose_needs_no_collection_context() -> None:
    answer = may_contact(FUNDRAISING, EMAIL, Facts(grant("fundraising")), MAY, AUTHORITY)
    assert (answer.allowed, answer.reason) == (True, Reason.CONSENT_GRANTED)


# Public-task information (LEGAL #17)


def test_a_public_authoritys_public_task_information_is_its_own_category() -> None:
    answer = may_contact(BIN_DAYS, EMAIL, Facts(suppressions=[objection()]), MAY, AUTHORITY)
    # Not marketing: an objection to marketing does not stop it.
    assert (answer.allowed, answer.reason, answer.basis) == (True, Reason.PUBLIC_TASK, Basis.PUBLIC_TASK)


def test_public_task_information_is_stopped_by_an_objection_to_it_and_by_hard_stops() -> None:
    withdrawn = replace(grant("bin_days", EMAIL), decision=Decision.WITHDRAWN)
    assert may_contact(BIN_DAYS, EMAIL, Facts(withdrawn), MAY, AUTHORITY).reason is Reason.OBJECTED
    assert (
        may_contact(BIN_DAYS, EMAIL, Facts(restricted=True), MAY, AUTHORITY).reason
        is Reason.CONTACT_RESTRICTED
    )
    assert may_contact(BIN_DAYS, EMAIL, Facts(erased=True), MAY, AUTHORITY).reason is Reason.PERSON_ERASED


@pytest.mark.parametrize("org", [CHARITY, COMPANY])
def test_public_task_information_is_denied_to_any_other_organisation(org: OrgType) -> None:
    answer = may_contact(BIN_DAYS, EMAIL, Facts(), MAY, org)
    assert (answer.allowed, answer.reason) == (False, Reason.PUBLIC_TASK_NOT_PUBLIC_AUTHORITY)


@pytest.mark.parametrize("org", [CHARITY, COMPANY])
def test_the_catalogue_refuses_a_public_task_purpose_to_any_other_organisation(org: OrgType) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_category(BIN_DAYS, org)
    assert refused.value.errors[0].field == "category"
    assert org.value in refused.value.errors[0].message


def test_the_catalogue_takes_a_public_task_purpose_from_a_public_authority() -> None:
    check_category(BIN_DAYS, AUTHORITY)
    check_category(MARKETING, AUTHORITY)


def test_the_public_task_basis_belongs_to_the_public_task_category_alone() -> None:
    misfiled = Purpose("leaflets", Category.MARKETING, {POST: Basis.PUBLIC_TASK})
    with pytest.raises(InvalidInput) as refused:
        check_category(misfiled, AUTHORITY)
    assert refused.value.errors[0].field == "bases"
