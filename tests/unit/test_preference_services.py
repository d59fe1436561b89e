"""LEGAL #12, #13, #19 as pure rules: marketing calls and the TPS, automated calls, and FPS files."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.csv_rows import BadFile, read_table
from consent_service.domain.csv_suppressions import SuppressionFormat, suppression_rows
from consent_service.domain.decision import Facts, Reason, may_contact
from consent_service.domain.ledger import CurrentConsent, Decision, Source
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope
from consent_service.domain.tps import Screening, screening_rows

NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
FRESH = Screening(listed=False, screened_on=date(2026, 3, 20))
LISTED = Screening(listed=True, screened_on=date(2026, 3, 20))
STALE = Screening(listed=False, screened_on=date(2026, 3, 3))  # 29 days before NOW
CALLS = Purpose(
    "calls",
    Category.MARKETING,
    {
        Channel.PHONE: Basis.LEGITIMATE_INTERESTS,
        Channel.AUTOMATED_CALL: Basis.LEGITIMATE_INTERESTS,
        Channel.SMS: Basis.LEGITIMATE_INTERESTS,
    },
)
BY_CONSENT = Purpose(
    "appeals", Category.MARKETING, {Channel.PHONE: Basis.CONSENT, Channel.AUTOMATED_CALL: Basis.CONSENT}
)
BY_SOFT_OPT_IN = Purpose("offers", Category.MARKETING, {Channel.AUTOMATED_CALL: Basis.SOFT_OPT_IN})
SERVICE = Purpose("administrative", Category.ADMINISTRATIVE, {Channel.PHONE: Basis.LEGITIMATE_INTERESTS})
SOFT_OPT_IN_CONTEXT = {
    "relationship": "enquirer",
    "opt_out_offered": True,
    "opt_out_wording": "Tick if you would rather we did not call.",
    "collected_on": "2026-02-10",
}


def granted(purpose: str, channel: Channel, context: dict[str, object] | None = None) -> CurrentConsent:
    return CurrentConsent(
        purpose=purpose,
        channel=channel,
        decision=Decision.GRANTED,
        effective_at=datetime(2026, 3, 1, tzinfo=UTC),
        event_id="event-1",
        notice_id="notice-1",
        source=Source.WEB_FORM,
        collection_context=context,
    )


def reason(purpose: Purpose, channel: Channel, facts: Facts) -> tuple[bool, Reason]:
    answer = may_contact(purpose, channel, facts, NOW)
    return answer.allowed, answer.reason


@pytest.mark.parametrize(
    ("purpose", "facts", "expected"),
    [
        (CALLS, Facts(tps=FRESH), (True, Reason.LEGITIMATE_INTERESTS)),
        (CALLS, Facts(tps=LISTED), (False, Reason.TPS_LISTED)),
        (CALLS, Facts(tps=STALE), (False, Reason.TPS_SCREENING_STALE)),
        # Never screened: the service cannot tell, so a marketing call fails closed.
        (CALLS, Facts(), (False, Reason.TPS_SCREENING_STALE)),
        (CALLS, Facts(tps=Screening(listed=False, screened_on=None)), (False, Reason.TPS_SCREENING_STALE)),
        # This organisation's own consent to its calls overrides the register, however old the screening.
        (BY_CONSENT, Facts(granted("appeals", Channel.PHONE), tps=LISTED), (True, Reason.CONSENT_GRANTED)),
        (BY_CONSENT, Facts(granted("appeals", Channel.PHONE), tps=STALE), (True, Reason.CONSENT_GRANTED)),
        (BY_CONSENT, Facts(tps=LISTED), (False, Reason.NO_CONSENT)),
        # Administrative calls are not marketing: the TPS does not apply to them.
        (SERVICE, Facts(tps=LISTED), (True, Reason.ADMINISTRATIVE)),
    ],
)
def test_a_live_marketing_call_needs_a_clear_screening_or_specific_consent(
    purpose: Purpose, facts: Facts, expected: tuple[bool, Reason]
) -> None:
    assert reason(purpose, Channel.PHONE, facts) == expected


def test_the_tps_does_not_concern_texts() -> None:
    assert reason(CALLS, Channel.SMS, Facts(tps=LISTED)) == (True, Reason.LEGITIMATE_INTERESTS)


def test_a_screening_is_stale_after_28_days() -> None:
    assert not Screening(False, date(2026, 3, 4)).stale_at(NOW)
    assert Screening(False, date(2026, 3, 3)).stale_at(NOW)


def test_an_automated_marketing_call_needs_consent_whatever_else_the_purpose_rests_on() -> None:
    assert reason(CALLS, Channel.AUTOMATED_CALL, Facts(tps=FRESH)) == (
        False,
        Reason.AUTOMATED_CALL_NEEDS_CONSENT,
    )
    soft = Facts(granted("offers", Channel.AUTOMATED_CALL, SOFT_OPT_IN_CONTEXT), tps=FRESH)
    assert reason(BY_SOFT_OPT_IN, Channel.AUTOMATED_CALL, soft) == (
        False,
        Reason.AUTOMATED_CALL_NEEDS_CONSENT,
    )
    consented = Facts(granted("appeals", Channel.AUTOMATED_CALL))
    assert reason(BY_CONSENT, Channel.AUTOMATED_CALL, consented) == (True, Reason.CONSENT_GRANTED)


def test_a_screening_file_is_one_number_a_line_or_csv_with_a_number_column() -> None:
    plain, bad = screening_rows("07912 345678\n\n+44 7912 345679\nnot a number\n", "GB")
    assert [n.point.value for n in plain] == ["+447912345678", "+447912345679"]
    assert [(e.line, e.message.split(":")[0]) for e in bad] == [(4, "number")]
    table, bad = screening_rows("number,name\n(07912) 345678,x\n,\n", "GB")
    assert [n.point.value for n in table] == ["+447912345678"]
    assert [e.line for e in bad] == []  # an all-empty record is skipped, as in every CSV import
    with pytest.raises(BadFile, match="number column"):
        screening_rows("phone,name\n07912 345678,x\n", "GB")


def test_an_fps_request_becomes_marketing_suppressions_on_the_channels_it_names() -> None:
    text = (
        "email,phone,postcode,address_line_1,channels,request_date\n"
        "jo@example.org,07912 345678,,,email|phone,2026-03-01\n"
        ",07912 345679,SW1A 1AA,10 Downing St,all,2026-03-02\n"
        "jo@example.org,,,,post,2026-03-02\n"
    )
    rows, bad = suppression_rows(read_table(text), SuppressionFormat.FPS, NOW, "GB")
    assert [(r.line, r.channel) for r in rows] == [
        (2, Channel.EMAIL),
        (2, Channel.PHONE),
        (2, Channel.AUTOMATED_CALL),
        (3, Channel.SMS),
        (3, Channel.PHONE),
        (3, Channel.AUTOMATED_CALL),
        (3, Channel.POST),
    ]
    assert {(r.reason, r.scope) for r in rows} == {(SuppressionReason.FPS, SuppressionScope.MARKETING)}
    assert rows[0].effective_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert rows[-1].to == {"lines": ["10 downing st"], "postcode": "SW1A 1AA"}
    assert [(e.line, e.message.split(":")[0]) for e in bad] == [(4, "postcode")]


def test_an_fps_file_with_a_column_it_does_not_know_is_refused_whole() -> None:
    with pytest.raises(BadFile, match="FPS portal"):
        suppression_rows(read_table("email,name,channels,request_date\n"), SuppressionFormat.FPS, NOW, "GB")
