"""DESIGN §3, "may I contact?", as one table: each row is a purpose, a channel, what the store knows, and
the answer the design asks for."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, TypedDict

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.decision import Answer, Facts, Reason, all_of, may_contact
from consent_service.domain.ledger import CurrentConsent, Decision, Source
from consent_service.domain.purposes import DEFAULT_CATALOGUE, Basis, Catalogue, Category, Purpose
from consent_service.domain.suppressions import Suppression, SuppressionReason, SuppressionScope

EMAIL, SMS, PHONE, POST = Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST
NO_CHANNEL = None

_DEFAULTS = Catalogue.of(DEFAULT_CATALOGUE)
MARKETING = _DEFAULTS.purposes["marketing"]
TESTIMONIAL = _DEFAULTS.purposes["testimonial"]
ADMINISTRATIVE = _DEFAULTS.purposes["administrative"]
#: An organisation's own purpose resting on the charity soft opt-in (PECR reg 22(3A)).
FUNDRAISING = Purpose("fundraising", Category.MARKETING, {EMAIL: Basis.SOFT_OPT_IN, SMS: Basis.SOFT_OPT_IN})

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
NOW = APR

ALLOW, DENY = True, False
SIGN_UP_CONTEXT = {
    "relationship": "enquirer",
    "how": "asked about a toddler group",
    "opt_out_offered": True,
    "opt_out_wording": "Tick if you would rather not hear about our other groups.",
    "collected_on": "2026-02-10",
}


def consent(
    decision: Decision,
    purpose: str = "marketing",
    channel: Channel | None = EMAIL,
    collection_context: dict[str, Any] | None = None,
) -> CurrentConsent:
    return CurrentConsent(
        purpose=purpose,
        channel=channel,
        decision=decision,
        effective_at=JAN,
        event_id=f"event-{purpose}-{decision.value}",
        notice_id="notice-1" if decision is Decision.GRANTED else None,
        source=Source.WEB_FORM,
        collection_context=collection_context,
    )


def granted(
    purpose: str = "marketing",
    channel: Channel | None = EMAIL,
    collection_context: dict[str, Any] | None = None,
) -> CurrentConsent:
    return consent(Decision.GRANTED, purpose, channel, collection_context)


def withdrawn(purpose: str = "marketing", channel: Channel | None = EMAIL) -> CurrentConsent:
    return consent(Decision.WITHDRAWN, purpose, channel)


def suppression(
    reason: SuppressionReason = SuppressionReason.UNSUBSCRIBED,
    channel: Channel | None = EMAIL,
    scope: SuppressionScope = SuppressionScope.MARKETING,
    purpose: str | None = None,
    effective_at: datetime = FEB,
    lifted_at: datetime | None = None,
) -> Suppression:
    return Suppression(
        id=f"suppression-{reason.value}",
        fingerprint="f" * 64,
        channel=channel,
        scope=scope,
        reason=reason,
        purpose=purpose,
        source="test",
        actor="test",
        effective_at=effective_at,
        recorded_at=effective_at,
        lifted_at=lifted_at,
    )


def row(
    name: str,
    purpose: Purpose,
    channel: Channel | None,
    allowed: bool,
    reason: str,
    *,
    at: datetime = NOW,
    **facts: Any,
) -> Any:
    """One line of the table: the question, the answer the design gives, and the facts behind it."""
    return pytest.param(purpose, channel, Facts(**facts), at, allowed, reason, id=name)


def unsubscribed(channel: Channel | None = EMAIL, **kwargs: Any) -> list[Suppression]:
    return [suppression(SuppressionReason.UNSUBSCRIBED, channel, **kwargs)]


def objected(channel: Channel | None = POST, **kwargs: Any) -> list[Suppression]:
    return [suppression(SuppressionReason.OBJECTED, channel, **kwargs)]


def bounced(channel: Channel | None = EMAIL, **kwargs: Any) -> list[Suppression]:
    return [suppression(SuppressionReason.HARD_BOUNCE, channel, **kwargs)]


def tombstone(channel: Channel | None = EMAIL) -> list[Suppression]:
    return [suppression(SuppressionReason.ERASED, channel)]


class SoftOptIn(TypedDict):
    """A soft opt-in's grant carries how the details were collected: the evidence for its basis."""

    collection_context: dict[str, Any]


SOFT: SoftOptIn = {"collection_context": SIGN_UP_CONTEXT}

# fmt: off
DECISION_TABLE = [
    # 1. Hard stops: restricted, erased, invalid contact point. They block administrative contact too.
    row("restricted/marketing email", MARKETING, EMAIL, DENY, "contact_restricted",
        consent=granted(), restricted=True),
    row("restricted/marketing post", MARKETING, POST, DENY, "contact_restricted", restricted=True),
    row("restricted/administrative", ADMINISTRATIVE, POST, DENY, "contact_restricted", restricted=True),
    row("erased/marketing email", MARKETING, EMAIL, DENY, "person_erased", consent=granted(), erased=True),
    row("erased/marketing post", MARKETING, POST, DENY, "person_erased", erased=True),
    row("erased/administrative", ADMINISTRATIVE, EMAIL, DENY, "person_erased", erased=True),
    row("erased tombstone/marketing post", MARKETING, POST, DENY, "person_erased",
        suppressions=tombstone(POST)),
    row("hard bounce/marketing email", MARKETING, EMAIL, DENY, "contact_invalid",
        consent=granted(), suppressions=bounced()),
    row("hard bounce/administrative", ADMINISTRATIVE, EMAIL, DENY, "contact_invalid", suppressions=bounced()),
    # 2. The suppression list, for this channel or all; a marketing-scope entry never blocks administrative.
    row("suppressed/marketing email despite grant", MARKETING, EMAIL, DENY, "suppressed",
        consent=granted(), suppressions=unsubscribed()),
    row("suppressed/marketing post", MARKETING, POST, DENY, "suppressed", suppressions=objected()),
    row("do-not-call list/marketing phone despite grant", MARKETING, PHONE, DENY, "suppressed",
        consent=granted(channel=PHONE),
        suppressions=[suppression(SuppressionReason.STAFF_REQUEST, PHONE)]),
    row("suppressed on all channels/marketing sms", MARKETING, SMS, DENY, "suppressed",
        consent=granted(channel=SMS), suppressions=unsubscribed(channel=None)),
    row("suppressed for this purpose/marketing email", MARKETING, EMAIL, DENY, "suppressed",
        consent=granted(), suppressions=unsubscribed(purpose="marketing")),
    row("suppressed/soft opt-in", FUNDRAISING, EMAIL, DENY, "suppressed",
        consent=granted("fundraising", **SOFT), suppressions=unsubscribed()),
    row("suppressed/testimonial", TESTIMONIAL, NO_CHANNEL, DENY, "suppressed",
        consent=granted("testimonial", None), suppressions=unsubscribed(None, purpose="testimonial")),
    row("marketing suppression/administrative still allowed", ADMINISTRATIVE, EMAIL, ALLOW, "administrative",
        suppressions=unsubscribed()),
    row("marketing sms withdrawn/administrative sms allowed", ADMINISTRATIVE, SMS, ALLOW, "administrative",
        suppressions=[suppression(SuppressionReason.WITHDRAWN, SMS, purpose="marketing")]),
    row("scope all suppression/administrative", ADMINISTRATIVE, EMAIL, DENY, "suppressed",
        suppressions=[suppression(SuppressionReason.STAFF_REQUEST, scope=SuppressionScope.ALL)]),
    row("suppression for another purpose/marketing email", MARKETING, EMAIL, ALLOW, "consent_granted",
        consent=granted(), suppressions=unsubscribed(purpose="fundraising")),
    row("suppression for another channel/marketing email", MARKETING, EMAIL, ALLOW, "consent_granted",
        consent=granted(), suppressions=unsubscribed(channel=SMS)),
    # 3. Basis consent: allowed only with a current grant.
    row("consent granted/marketing email", MARKETING, EMAIL, ALLOW, "consent_granted", consent=granted()),
    row("consent granted/marketing sms", MARKETING, SMS, ALLOW, "consent_granted",
        consent=granted(channel=SMS)),
    row("consent granted/marketing phone", MARKETING, PHONE, ALLOW, "consent_granted",
        consent=granted(channel=PHONE)),
    row("no record or unknown contact/marketing email", MARKETING, EMAIL, DENY, "no_consent"),
    row("no record/marketing sms", MARKETING, SMS, DENY, "no_consent"),
    row("no record/marketing phone", MARKETING, PHONE, DENY, "no_consent"),
    row("withdrawn/marketing email", MARKETING, EMAIL, DENY, "consent_withdrawn", consent=withdrawn()),
    row("withdrawn/marketing phone", MARKETING, PHONE, DENY, "consent_withdrawn",
        consent=withdrawn(channel=PHONE)),
    row("consent granted/testimonial", TESTIMONIAL, NO_CHANNEL, ALLOW, "consent_granted",
        consent=granted("testimonial", None)),
    row("no record/testimonial", TESTIMONIAL, NO_CHANNEL, DENY, "no_consent"),
    row("withdrawn/testimonial", TESTIMONIAL, NO_CHANNEL, DENY, "consent_withdrawn",
        consent=withdrawn("testimonial", None)),
    # 4. Basis legitimate interests (marketing by post): allowed unless objected.
    row("no record or unknown contact/marketing post", MARKETING, POST, ALLOW, "legitimate_interests"),
    row("granted/marketing post", MARKETING, POST, ALLOW, "legitimate_interests",
        consent=granted(channel=POST)),
    row("withdrawn/marketing post is an objection", MARKETING, POST, DENY, "objected",
        consent=withdrawn(channel=POST)),
    # Basis soft opt-in (an organisation's own purpose): the collection context is the evidence.
    row("soft opt-in granted with collection context", FUNDRAISING, EMAIL, ALLOW, "soft_opt_in",
        consent=granted("fundraising", **SOFT)),
    row("soft opt-in basis, explicit grant", FUNDRAISING, SMS, ALLOW, "consent_granted",
        consent=granted("fundraising", SMS)),
    row("soft opt-in withdrawn", FUNDRAISING, EMAIL, DENY, "consent_withdrawn",
        consent=withdrawn("fundraising")),
    row("soft opt-in no record", FUNDRAISING, EMAIL, DENY, "no_consent"),
    # Administrative: service messages.
    row("administrative email", ADMINISTRATIVE, EMAIL, ALLOW, "administrative"),
    row("administrative post", ADMINISTRATIVE, POST, ALLOW, "administrative"),
    # Unknown contact (no person, so no facts but the suppression list): deny for consent, allow for
    # legitimate interests unless suppressed.
    row("unknown contact/soft opt-in", FUNDRAISING, EMAIL, DENY, "no_consent"),
    row("unknown contact suppressed/marketing post", MARKETING, POST, DENY, "suppressed",
        suppressions=objected()),
    row("unknown contact/administrative", ADMINISTRATIVE, PHONE, ALLOW, "administrative"),
    # Point in time: only entries in force at `at` count.
    row("at: suppression came later", MARKETING, EMAIL, ALLOW, "consent_granted", at=FEB,
        consent=granted(), suppressions=unsubscribed(effective_at=MAR)),
    row("at: suppression lifted before", MARKETING, EMAIL, ALLOW, "consent_granted", at=APR,
        consent=granted(), suppressions=unsubscribed(effective_at=FEB, lifted_at=MAR)),
    row("at: suppression in force", MARKETING, EMAIL, DENY, "suppressed", at=MAR,
        consent=granted(), suppressions=unsubscribed(effective_at=FEB, lifted_at=APR)),
    row("at: suppression from its very moment", MARKETING, EMAIL, DENY, "suppressed", at=MAR,
        consent=granted(), suppressions=unsubscribed(effective_at=MAR)),
    row("at: objection by post came later", MARKETING, POST, ALLOW, "legitimate_interests", at=FEB,
        suppressions=objected(effective_at=MAR)),
    row("at: hard bounce came later", ADMINISTRATIVE, EMAIL, ALLOW, "administrative", at=FEB,
        suppressions=bounced(effective_at=MAR)),
]
# fmt: on


@pytest.mark.parametrize(("purpose", "channel", "facts", "at", "allowed", "reason"), DECISION_TABLE)
def test_may_contact(
    purpose: Purpose, channel: Channel | None, facts: Facts, at: datetime, allowed: bool, reason: str
) -> None:
    answer = may_contact(purpose, channel, facts, at)

    assert (answer.allowed, answer.reason.value) == (allowed, reason)
    assert answer.basis is purpose.basis_for(channel)


def test_a_consent_answer_names_the_event_and_notice_behind_it() -> None:
    answer = may_contact(MARKETING, EMAIL, Facts(granted()), NOW)

    assert answer.evidence is not None
    assert answer.evidence["event_id"] == "event-marketing-granted"
    assert answer.evidence["notice_id"] == "notice-1"
    assert answer.evidence["effective_at"] == JAN


def test_a_suppressed_answer_names_the_reason_and_date() -> None:
    answer = may_contact(MARKETING, EMAIL, Facts(granted(), [suppression(effective_at=FEB)]), NOW)

    assert answer.evidence is not None
    assert answer.evidence["suppression_reason"] == "unsubscribed"
    assert answer.evidence["suppressed_since"] == FEB


def household(*answers: Answer) -> Answer:
    return all_of(list(answers))


def test_household_address_allowed_when_everyone_allows() -> None:
    jo = may_contact(MARKETING, EMAIL, Facts(granted()), NOW)
    sam = may_contact(MARKETING, EMAIL, Facts(granted()), NOW)

    answer = household(jo, sam)

    assert answer.allowed
    assert answer.reason is Reason.CONSENT_GRANTED


@pytest.mark.parametrize("withdrawn_first", [True, False], ids=["deny first", "deny last"])
def test_household_address_any_deny_wins(withdrawn_first: bool) -> None:
    jo = may_contact(MARKETING, EMAIL, Facts(granted()), NOW)
    sam = may_contact(MARKETING, EMAIL, Facts(withdrawn()), NOW)

    answer = household(sam, jo) if withdrawn_first else household(jo, sam)

    assert not answer.allowed
    assert answer.reason is Reason.CONSENT_WITHDRAWN


def test_household_postal_address_one_objection_stops_the_letter() -> None:
    answers = [
        may_contact(MARKETING, POST, Facts(), NOW),
        may_contact(MARKETING, POST, Facts(granted(channel=POST)), NOW),
        may_contact(MARKETING, POST, Facts(withdrawn(channel=POST)), NOW),
    ]

    answer = all_of(answers)

    assert not answer.allowed
    assert answer.reason is Reason.OBJECTED


def _fresh(source: Source = Source.WEB_FORM, at: datetime = MAR) -> CurrentConsent:
    """A grant to marketing by email, given by the person themselves (or imported) on ``at``."""
    return dataclasses.replace(granted(), source=source, effective_at=at)


#: An erasure in February left a tombstone for every channel of the address (LEGAL #16).
ERASED_IN_FEB = [suppression(SuppressionReason.ERASED, None, effective_at=FEB)]
GONE = "person_erased"


@pytest.mark.parametrize(
    ("purpose", "facts", "allowed", "reason"),
    [
        pytest.param(
            MARKETING, Facts(_fresh(), ERASED_IN_FEB), ALLOW, "consent_granted", id="own grant after"
        ),
        pytest.param(MARKETING, Facts(_fresh(Source.IMPORT), ERASED_IN_FEB), DENY, GONE, id="re-imported"),
        pytest.param(MARKETING, Facts(_fresh(at=JAN), ERASED_IN_FEB), DENY, GONE, id="grant before"),
        pytest.param(MARKETING, Facts(None, ERASED_IN_FEB, own_grant_at=MAR), DENY, GONE, id="no grant"),
        pytest.param(
            ADMINISTRATIVE, Facts(None, ERASED_IN_FEB, own_grant_at=MAR), ALLOW, "administrative", id="admin"
        ),
        pytest.param(
            ADMINISTRATIVE, Facts(None, ERASED_IN_FEB, own_grant_at=JAN), DENY, GONE, id="admin, before"
        ),
        pytest.param(ADMINISTRATIVE, Facts(None, ERASED_IN_FEB), DENY, GONE, id="admin, imported"),
        pytest.param(
            MARKETING,
            Facts(_fresh(), [*ERASED_IN_FEB, *unsubscribed(effective_at=APR)]),
            DENY,
            "suppressed",
            id="own grant, then unsubscribed",
        ),
    ],
)
def test_someone_who_registers_again_after_an_erasure_is_contacted_as_they_asked(
    purpose: Purpose, facts: Facts, allowed: bool, reason: str
) -> None:
    answer = may_contact(purpose, EMAIL, facts, NOW)
    assert (answer.allowed, answer.reason.value) == (allowed, reason)
