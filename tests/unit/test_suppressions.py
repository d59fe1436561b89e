"""The suppression list (DESIGN §2): what an entry covers, when it is in force, when a re-grant lifts it."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from consent_service.api.schemas.suppressions import StaffLiftReason
from consent_service.domain.channels import Channel
from consent_service.domain.ledger import ConsentEvent, Decision, Source
from consent_service.domain.purposes import Basis, Category
from consent_service.domain.suppressions import (
    STAFF_LIFT_REASONS,
    Suppression,
    SuppressionHow,
    SuppressionReason,
    SuppressionScope,
    lifted_by_grant,
    objected,
    reason_for_withdrawal,
)

EMAIL, SMS, POST = Channel.EMAIL, Channel.SMS, Channel.POST
MARKETING, ADMINISTRATIVE = Category.MARKETING, Category.ADMINISTRATIVE
JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)


def entry(
    reason: SuppressionReason = SuppressionReason.WITHDRAWN,
    channel: Channel | None = EMAIL,
    scope: SuppressionScope = SuppressionScope.MARKETING,
    purpose: str | None = None,
    effective_at: datetime = FEB,
    lifted_at: datetime | None = None,
) -> Suppression:
    return Suppression(
        id="entry-1",
        fingerprint="f" * 64,
        channel=channel,
        scope=scope,
        reason=reason,
        purpose=purpose,
        source="unsubscribe_link",
        actor="public",
        effective_at=effective_at,
        recorded_at=effective_at,
        lifted_at=lifted_at,
    )


def grant(
    channel: Channel | None = EMAIL,
    source: Source = Source.WEB_FORM,
    notice_id: str | None = "notice-2",
    effective_at: datetime = MAR,
    purpose: str = "marketing",
    decision: Decision = Decision.GRANTED,
) -> ConsentEvent:
    return ConsentEvent(
        id="event-9",
        seq=9,
        person_id="person-1",
        purpose=purpose,
        channel=channel,
        decision=decision,
        effective_at=effective_at,
        recorded_at=effective_at,
        source=source,
        actor="client:forms",
        notice_id=notice_id,
    )


# Lifting by a re-grant


@pytest.mark.parametrize(
    "reason",
    [
        SuppressionReason.COMPLAINT,
        SuppressionReason.WITHDRAWN,
        SuppressionReason.UNSUBSCRIBED,
    ],
)
def test_the_persons_own_later_grant_with_notice_lifts_the_entry(reason: SuppressionReason) -> None:
    assert lifted_by_grant(entry(reason), grant())


@pytest.mark.parametrize("source", [Source.PREFERENCE_CENTRE, Source.PHONE_CALL, Source.PAPER_FORM])
def test_a_grant_through_any_of_the_persons_own_routes_lifts(source: Source) -> None:
    assert lifted_by_grant(entry(), grant(source=source))


def test_an_entry_for_that_purpose_is_lifted_by_a_grant_for_it() -> None:
    assert lifted_by_grant(entry(purpose="marketing"), grant(purpose="marketing"))


def test_an_objection_to_exactly_what_is_granted_is_lifted_by_the_persons_grant() -> None:
    assert lifted_by_grant(entry(SuppressionReason.OBJECTED, purpose="marketing"), grant(purpose="marketing"))


@pytest.mark.parametrize("channel", [EMAIL, None], ids=["every purpose on the channel", "all marketing"])
def test_a_wider_objection_is_not_lifted_by_a_grant_for_one_purpose(channel: Channel | None) -> None:
    # It stays in force for everything else; the decision re-opens only what was granted.
    assert not lifted_by_grant(entry(SuppressionReason.OBJECTED, channel=channel), grant(purpose="marketing"))


def test_an_import_never_lifts() -> None:
    assert not lifted_by_grant(entry(), grant(source=Source.IMPORT))


def test_a_grant_without_its_notice_does_not_lift() -> None:
    assert not lifted_by_grant(entry(), grant(notice_id=None))


@pytest.mark.parametrize("effective_at", [JAN, FEB], ids=["older than the entry", "same moment as the entry"])
def test_a_grant_not_after_the_entry_does_not_lift(effective_at: datetime) -> None:
    assert not lifted_by_grant(entry(effective_at=FEB), grant(effective_at=effective_at))


def test_a_withdrawal_does_not_lift() -> None:
    assert not lifted_by_grant(entry(), grant(decision=Decision.WITHDRAWN))


@pytest.mark.parametrize("reason", [SuppressionReason.HARD_BOUNCE, SuppressionReason.ERASED])
def test_a_bounce_or_erasure_is_never_lifted_by_a_grant(reason: SuppressionReason) -> None:
    assert not lifted_by_grant(entry(reason), grant(effective_at=APR))


def test_an_entry_for_another_channel_is_not_lifted() -> None:
    assert not lifted_by_grant(entry(channel=SMS), grant(channel=EMAIL))


def test_an_entry_for_every_channel_is_not_lifted_by_a_grant_on_one() -> None:
    assert not lifted_by_grant(entry(channel=None), grant(channel=EMAIL))


def test_a_scope_all_entry_is_not_lifted() -> None:
    assert not lifted_by_grant(entry(SuppressionReason.STAFF_REQUEST, scope=SuppressionScope.ALL), grant())


def test_an_entry_for_another_purpose_is_not_lifted() -> None:
    assert not lifted_by_grant(entry(purpose="fundraising"), grant(purpose="marketing"))


def test_an_entry_already_lifted_is_not_lifted_again() -> None:
    assert not lifted_by_grant(entry(lifted_at=MAR), grant(effective_at=APR))


# What an entry covers


@pytest.mark.parametrize(
    ("suppression", "channel", "purpose", "category", "covered"),
    [
        pytest.param(entry(channel=EMAIL), EMAIL, "marketing", MARKETING, True, id="its channel"),
        pytest.param(entry(channel=EMAIL), SMS, "marketing", MARKETING, False, id="another channel"),
        pytest.param(entry(channel=None), POST, "marketing", MARKETING, True, id="every channel"),
        pytest.param(entry(), EMAIL, "fundraising", MARKETING, True, id="every marketing purpose"),
        pytest.param(entry(purpose="marketing"), EMAIL, "marketing", MARKETING, True, id="its purpose"),
        pytest.param(
            entry(purpose="marketing"), EMAIL, "fundraising", MARKETING, False, id="another purpose"
        ),
        pytest.param(entry(), EMAIL, "administrative", ADMINISTRATIVE, False, id="marketing scope, admin"),
        pytest.param(
            entry(scope=SuppressionScope.ALL), EMAIL, "administrative", ADMINISTRATIVE, True, id="all, admin"
        ),
        pytest.param(
            entry(scope=SuppressionScope.ALL), EMAIL, "marketing", MARKETING, True, id="all, marketing"
        ),
    ],
)
def test_covers(
    suppression: Suppression, channel: Channel, purpose: str, category: Category, covered: bool
) -> None:
    assert suppression.covers(channel, purpose, category) is covered


# When an entry is in force


@pytest.mark.parametrize(
    ("at", "in_force"),
    [
        pytest.param(FEB - timedelta(seconds=1), False, id="before it took effect"),
        pytest.param(FEB, True, id="from the moment it took effect"),
        pytest.param(MAR - timedelta(seconds=1), True, id="until it was lifted"),
        pytest.param(MAR, False, id="from the moment it was lifted"),
        pytest.param(APR, False, id="after it was lifted"),
    ],
)
def test_in_force_at_for_a_lifted_entry(at: datetime, in_force: bool) -> None:
    assert entry(effective_at=FEB, lifted_at=MAR).in_force_at(at) is in_force


def test_an_entry_never_lifted_stays_in_force() -> None:
    suppression = entry(effective_at=FEB)

    assert suppression.in_force_at(datetime(2099, 1, 1, tzinfo=UTC))
    assert not suppression.in_force_at(JAN)


# The reason a withdrawal is filed under


def test_withdrawing_consent_is_filed_as_withdrawn() -> None:
    assert reason_for_withdrawal(Basis.CONSENT, Source.WEB_FORM) is SuppressionReason.WITHDRAWN


def test_an_unsubscribe_link_is_filed_as_unsubscribed() -> None:
    assert reason_for_withdrawal(Basis.CONSENT, Source.UNSUBSCRIBE_LINK) is SuppressionReason.UNSUBSCRIBED
    assert (
        reason_for_withdrawal(Basis.LEGITIMATE_INTERESTS, Source.UNSUBSCRIBE_LINK)
        is SuppressionReason.UNSUBSCRIBED
    )


def test_opting_out_of_a_soft_opt_in_is_filed_as_withdrawn() -> None:
    assert reason_for_withdrawal(Basis.SOFT_OPT_IN, Source.WEB_FORM) is SuppressionReason.WITHDRAWN


def test_objecting_to_legitimate_interests_is_filed_as_objected() -> None:
    assert reason_for_withdrawal(Basis.LEGITIMATE_INTERESTS, Source.WEB_FORM) is SuppressionReason.OBJECTED


@pytest.mark.parametrize("basis", list(Basis))
@pytest.mark.parametrize("source", [Source.PREFERENCE_CENTRE, Source.UNSUBSCRIBE_LINK])
def test_stopping_all_marketing_is_filed_as_objected_whatever_the_basis(basis: Basis, source: Source) -> None:
    assert reason_for_withdrawal(basis, source, objection=True) is SuppressionReason.OBJECTED


# An objection by fingerprint (an address the service holds nobody for)


def test_an_objection_by_fingerprint_covers_every_marketing_purpose_on_its_channel_only() -> None:
    objection = objected("entry-2", "f" * 64, EMAIL, FEB)
    assert (objection.reason, objection.source) == (SuppressionReason.OBJECTED, "preference_centre")
    assert objection.covers(EMAIL, "marketing", MARKETING)
    assert objection.covers(EMAIL, "a purpose added next year", MARKETING)
    assert not objection.covers(EMAIL, "administrative", ADMINISTRATIVE)
    assert not objection.covers(SMS, "marketing", MARKETING)


def test_an_objection_by_fingerprint_stays_on_the_list_after_the_familys_own_later_grant() -> None:
    # An objection is absolute: the entry is never lifted; the family's own later grant re-opens the
    # one purpose and channel it names, in the decision (decision.reopened), and nothing else.
    assert not lifted_by_grant(objected("entry-2", "f" * 64, EMAIL, FEB), grant(source=Source.WEB_FORM))


def test_an_entry_says_why_how_and_why_lifted_with_codes_alone() -> None:
    """COMPLIANCE row 15: no field of an entry takes free text; the API offers staff the domain's own
    lift reasons, and how a request came is named as the ledger names the same sources."""
    assert "note" not in {f.name for f in fields(Suppression)}
    assert set(get_args(StaffLiftReason)) == {reason.value for reason in STAFF_LIFT_REASONS}
    assert {how.value for how in SuppressionHow} <= {source.value for source in Source}
