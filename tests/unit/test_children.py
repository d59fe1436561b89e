"""LEGAL #30: a child's age from the month of birth, and when a grant needs a guardian."""

from __future__ import annotations

from datetime import date

import pytest

from consent_service.domain.children import Guardian, age_on, guardian_refusals
from consent_service.domain.ledger import Decision, Source

NOBODY = Guardian()
MOTHER = Guardian("p-mother", "mother", child_assent=True)


@pytest.mark.parametrize(
    ("birth_month", "day", "age"),
    [
        ("2013-06", date(2026, 6, 29), 12),
        ("2013-06", date(2026, 6, 30), 13),  # the month's last day: surely 13 by now
        ("2008-06", date(2026, 6, 29), 17),
        ("2008-06", date(2026, 6, 30), 18),
        ("2012-02", date(2025, 2, 28), 12),  # born in a leap February: not 13 until it has surely passed
        ("2012-02", date(2025, 3, 1), 13),
    ],
)
def test_an_age_counts_from_the_last_day_of_the_birth_month(birth_month: str, day: date, age: int) -> None:
    assert age_on(birth_month, day) == age


def refusals(
    birth_month: str | None,
    day: date,
    purpose: str = "testimonial",
    decision: Decision = Decision.GRANTED,
    source: Source = Source.PAPER_FORM,
    guardian: Guardian = NOBODY,
) -> list[str]:
    return [
        e.field for e in guardian_refusals(birth_month, day, purpose, decision, source, guardian, "evidence.")
    ]


def test_testimonial_consent_under_18_needs_a_guardian_and_on_the_18th_birthday_does_not() -> None:
    assert refusals("2008-06", date(2026, 6, 29)) == ["evidence.guardian_id"]
    assert refusals("2008-06", date(2026, 6, 30)) == []
    assert refusals("2008-06", date(2026, 6, 29), guardian=MOTHER) == []


def test_a_guardian_is_named_with_the_relationship() -> None:
    assert refusals("2015-01", date(2026, 6, 1), guardian=Guardian("p-mother")) == [
        "evidence.guardian_relationship"
    ]


def test_an_under_13s_own_online_grant_is_refused_and_on_the_13th_birthday_is_not() -> None:
    for source in (Source.WEB_FORM, Source.PREFERENCE_CENTRE):
        assert refusals("2013-06", date(2026, 6, 29), "marketing", source=source) == ["evidence.guardian_id"]
        assert refusals("2013-06", date(2026, 6, 30), "marketing", source=source) == []
    assert refusals("2013-06", date(2026, 6, 29), "marketing", source=Source.WEB_FORM, guardian=MOTHER) == []


def test_an_under_13s_marketing_grant_on_paper_and_a_teenagers_online_are_not_this_rules_business() -> None:
    assert refusals("2016-01", date(2026, 6, 1), "marketing", source=Source.PAPER_FORM) == []
    assert refusals("2011-01", date(2026, 6, 1), "marketing", source=Source.WEB_FORM) == []


def test_a_withdrawal_by_or_for_a_child_and_anyone_without_a_birth_month_are_never_refused() -> None:
    for source in Source:
        assert refusals("2020-01", date(2026, 6, 1), decision=Decision.WITHDRAWN, source=source) == []
    assert refusals(None, date(2026, 6, 1), source=Source.WEB_FORM) == []
