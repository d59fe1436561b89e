"""The paperwork rule (DESIGN §4.1): an opt-out is recorded whatever it lacks; a grant is refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.evidence import Gap, paperwork, provenance_gaps, recorded_at_time, refuses
from consent_service.domain.ledger import (
    GENESIS_HASH,
    ConsentEvent,
    Decision,
    Evidence,
    Source,
    event_digest,
    evidence_digest,
    first_broken_link,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NAMED = Evidence(staff_member="Priya Shah")


def test_a_forwarded_email_without_a_staff_member_lacks_only_the_staff_member() -> None:
    assert provenance_gaps(Source.EMAIL, Evidence(), NOW, NOW) == (Gap.STAFF_MEMBER,)


def test_a_request_back_dated_three_days_without_a_note_lacks_the_note() -> None:
    three_days_ago = NOW - timedelta(days=3)
    assert provenance_gaps(Source.LETTER, NAMED, three_days_ago, NOW) == (Gap.NOTE,)
    explained = Evidence(staff_member="Priya Shah", note="letter dated Friday, opened Monday")
    assert provenance_gaps(Source.LETTER, explained, three_days_ago, NOW) == ()


def test_a_form_posting_late_needs_no_note_and_a_staff_taken_one_within_a_day_neither() -> None:
    assert provenance_gaps(Source.WEB_FORM, Evidence(), NOW - timedelta(days=3), NOW) == ()
    assert provenance_gaps(Source.PHONE_CALL, NAMED, NOW - timedelta(hours=20), NOW) == ()


def test_every_gap_is_named_at_once_in_a_fixed_order() -> None:
    future = NOW + timedelta(hours=1)
    assert provenance_gaps(Source.PHONE_CALL, Evidence(), future, NOW) == (Gap.STAFF_MEMBER, Gap.EFFECTIVE_AT)
    late = NOW - timedelta(days=2)
    assert provenance_gaps(Source.IN_PERSON, Evidence(), late, NOW) == (Gap.STAFF_MEMBER, Gap.NOTE)


@pytest.mark.parametrize("source", [Source.EMAIL, Source.LETTER, Source.PHONE_CALL, Source.IN_PERSON])
def test_an_opt_out_is_never_refused_for_its_paperwork_but_a_grant_is(source: Source) -> None:
    late = NOW - timedelta(days=5)
    withdrawal = paperwork(Decision.WITHDRAWN, source, Evidence(), late, NOW)
    assert (withdrawal.refused, withdrawal.complete) == (False, False)
    assert withdrawal.gaps == (Gap.STAFF_MEMBER, Gap.NOTE)
    grant = paperwork(Decision.GRANTED, source, Evidence(), late, NOW)
    assert (grant.refused, grant.gaps) == (True, (Gap.STAFF_MEMBER, Gap.NOTE))
    assert paperwork(Decision.GRANTED, source, NAMED, NOW, NOW).refused is False


def test_refuses_only_grants_and_only_with_gaps() -> None:
    assert refuses(Decision.GRANTED, [Gap.NOTE]) is True
    assert refuses(Decision.GRANTED, []) is False
    assert refuses(Decision.WITHDRAWN, list(Gap)) is False


def test_an_opt_out_dated_in_the_future_takes_effect_when_recorded() -> None:
    assert recorded_at_time(NOW + timedelta(days=7), NOW) == NOW
    assert recorded_at_time(NOW - timedelta(days=7), NOW) == NOW - timedelta(days=7)
    assert recorded_at_time(NOW + timedelta(minutes=1), NOW) == NOW + timedelta(minutes=1)


def _sealed(gaps: tuple[str, ...]) -> ConsentEvent:
    draft = ConsentEvent(
        id="e1",
        seq=1,
        person_id="p1",
        purpose="marketing",
        channel=Channel.EMAIL,
        decision=Decision.WITHDRAWN,
        effective_at=NOW,
        recorded_at=NOW,
        source=Source.EMAIL,
        actor="key:mailer",
        notice_id=None,
        evidence_hash=evidence_digest(Evidence()),
        evidence_gaps=gaps,
    )
    return replace(draft, hash=event_digest(draft, GENESIS_HASH))


def test_a_complete_event_hashes_exactly_as_events_did_before_gaps_existed() -> None:
    body = {
        "id": "e1",
        "seq": 1,
        "person_id": "p1",
        "purpose": "marketing",
        "channel": "email",
        "decision": "withdrawn",
        "effective_at": NOW.isoformat(),
        "recorded_at": NOW.isoformat(),
        "source": "email",
        "actor": "key:mailer",
        "notice_id": None,
        "evidence_hash": evidence_digest(Evidence()),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert _sealed(()).hash == hashlib.sha256(GENESIS_HASH.encode() + canonical).hexdigest()


def test_the_hash_chain_covers_the_gaps() -> None:
    incomplete = _sealed(("staff_member", "note"))
    assert not incomplete.evidence_complete and _sealed(()).evidence_complete
    assert first_broken_link([incomplete]) is None
    # Hiding afterwards that the paperwork was missing, or adding a gap, breaks the chain.
    assert first_broken_link([replace(incomplete, evidence_gaps=())]) is not None
    assert first_broken_link([replace(_sealed(()), evidence_gaps=("note",))]) is not None
