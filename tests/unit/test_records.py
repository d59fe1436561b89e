"""Consent records in the standards' vocabularies: Kantara v1.1 receipts (LEGAL #25) and the ISO/IEC
TS 27560 record with W3C DPV states (LEGAL #26)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from consent_service.domain.access import AccessRequest, one_month_after
from consent_service.domain.channels import Channel
from consent_service.domain.consent_record import GIVEN, REFUSED, WITHDRAWN, consent_record
from consent_service.domain.ledger import Decision
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.purposes import DEFAULT_CATALOGUE
from consent_service.domain.receipts import DataController, NotAConsent, consent_receipt
from consent_service.domain.retention import rules
from tests.unit.test_ledger import APR, FEB, JAN, MAR, event

GRANTED, WITHDRAWN_ = Decision.GRANTED, Decision.WITHDRAWN
PURPOSES = {p.code: p for p in DEFAULT_CATALOGUE}
NOTICE = NoticeVersion("notice-1", "marketing", 3, "en", "We would like to…", "ab" * 32, JAN)
CONTROLLER = DataController("Family Hub Leeds", "DPO", "dpo@example.org", "1 Road", "0113", "https://x/p")


def test_a_grant_receipt_says_explicit_and_a_withdrawal_has_no_kantara_receipt() -> None:
    receipt = consent_receipt(event("e1", GRANTED, JAN), PURPOSES["marketing"], NOTICE, CONTROLLER)
    purpose = receipt["services"][0]["purposes"][0]
    assert (receipt["version"], purpose["consentType"]) == ("KI-CR-v1.1.0", "EXPLICIT")
    assert purpose["purposeCategory"] == ["6 - Marketing"] and purpose["piiCategory"] == ["2 - Contact"]
    assert receipt["consentTimestamp"] == int(JAN.timestamp())
    with pytest.raises(NotAConsent, match="27560"):
        consent_receipt(event("e2", WITHDRAWN_, FEB), PURPOSES["marketing"], None, CONTROLLER)


def test_the_27560_record_names_given_withdrawn_and_refused_by_what_came_before() -> None:
    events = [
        event("e3", WITHDRAWN_, MAR),  # email: after a grant
        event("e1", GRANTED, JAN),
        event("e2", WITHDRAWN_, FEB, channel=Channel.SMS),  # sms: never granted
        event("e4", GRANTED, APR, purpose="testimonial", channel=None),
    ]
    record = consent_record(
        "person-1", events, PURPOSES, lambda i: {"notice-1": NOTICE}.get(i or ""), CONTROLLER, APR
    )
    assert [(e["event_id"], e["state"]) for e in record["event"]] == [
        ("e1", GIVEN),
        ("e2", REFUSED),
        ("e3", WITHDRAWN),
        ("e4", GIVEN),
    ]
    assert set(record) == {"@context", "header", "party", "processing", "event"}
    assert record["header"]["schema_version"] == "ISO/IEC TS 27560:2023"
    assert record["header"]["created_at"] == APR.isoformat()
    assert [p["role"] for p in record["party"]] == ["dpv:DataSubject", "dpv:DataController"]
    processing = {p["processing_id"]: p for p in record["processing"]}
    assert processing["marketing/email"]["legal_basis"] == "dpv:Consent"
    assert processing["marketing/email"]["personal_data"] == ["pd:EmailAddress"]
    assert processing["testimonial"]["personal_data"] == ["pd:PersonalStory"]
    assert record["event"][0]["notice"] == {"version": 3, "language": "en", "sha256": "ab" * 32}
    assert record["event"][0]["event_time"] == datetime(2026, 1, 1, tzinfo=UTC).isoformat()


@pytest.mark.parametrize("channel", list(Channel))
def test_the_27560_record_names_the_personal_data_of_every_channel(channel: Channel) -> None:
    # A channel added later (automated calls) once made the export a 500 for anyone who used it.
    record = consent_record(
        "person-1", [event("e1", GRANTED, JAN, channel=channel)], PURPOSES, lambda _: None, CONTROLLER, APR
    )
    [processing] = record["processing"]
    assert processing["channel"] == channel.value
    assert processing["personal_data"][0].startswith("pd:")


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2025, 1, 31), date(2025, 2, 28)),
        (date(2024, 1, 31), date(2024, 2, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),
        (date(2026, 9, 3), date(2026, 10, 3)),
    ],
)
def test_a_subject_access_request_is_due_one_calendar_month_after_receipt(received: date, due: date) -> None:
    assert one_month_after(received) == due


def test_an_access_request_is_overdue_only_after_its_due_day_and_only_while_unanswered() -> None:
    request = AccessRequest("r1", "p1", date(2026, 1, 31), date(2026, 2, 28), "staff", JAN)
    assert not request.overdue(date(2026, 2, 28)) and request.overdue(date(2026, 3, 1))
    assert not replace(request, answered_at=MAR).overdue(date(2026, 3, 1))


def test_every_record_type_has_a_retention_rule_and_tombstones_are_kept_for_ever() -> None:
    kept = {rule.record: rule.kept for rule in rules(3, 30, 30)}
    assert set(kept) >= {
        "consent events",
        "suppressions and erasure tombstones",
        "idempotency keys and kept answers",
        "change feed and outbox",
        "subject access requests and legal holds",
        "audit trails (staff audit, refused lifts)",
    }
    assert kept["suppressions and erasure tombstones"].startswith("for ever")
    assert "3 years" in kept["people and contact details"]
