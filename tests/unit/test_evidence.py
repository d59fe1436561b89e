"""The paperwork rule (DESIGN §4.1): an opt-out is recorded whatever it lacks; a grant is refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.evidence import (
    Gap,
    affirmation_refusals,
    paperwork,
    provenance_gaps,
    recorded_at_time,
    refuses,
)
from consent_service.domain.ledger import (
    GENESIS_HASH,
    AffirmativeAction,
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


# UK GDPR Art 4(11), Recital 32 (COMPLIANCE row 3): a grant is the person's own act, never pre-ticked.


@pytest.mark.parametrize("action", list(AffirmativeAction))
def test_a_grant_with_the_persons_own_act_not_pre_ticked_stands(action: AffirmativeAction) -> None:
    assert affirmation_refusals(Decision.GRANTED, action, False, "choices[0].") == []


@pytest.mark.parametrize(
    ("action", "pre_ticked", "fields"),
    [
        (None, False, ["choices[0].affirmative_action"]),
        (AffirmativeAction.TICKED_BOX, None, ["choices[0].pre_ticked"]),
        (AffirmativeAction.TICKED_BOX, True, ["choices[0].pre_ticked"]),
        (None, None, ["choices[0].affirmative_action", "choices[0].pre_ticked"]),
        (None, True, ["choices[0].affirmative_action", "choices[0].pre_ticked"]),
    ],
)
def test_a_silent_or_pre_ticked_grant_is_refused_naming_each_field(
    action: AffirmativeAction | None, pre_ticked: bool | None, fields: list[str]
) -> None:
    refused = affirmation_refusals(Decision.GRANTED, action, pre_ticked, "choices[0].")
    assert [e.field for e in refused] == fields
    assert all(e.message for e in refused)


def test_a_pre_ticked_box_is_refused_as_not_consent_and_a_missing_act_lists_every_act() -> None:
    [ticked] = affirmation_refusals(Decision.GRANTED, AffirmativeAction.TICKED_BOX, True, "")
    assert "not consent" in ticked.message
    [unsaid] = affirmation_refusals(Decision.GRANTED, None, False, "")
    assert all(a.value in unsaid.message for a in AffirmativeAction)


@pytest.mark.parametrize("pre_ticked", [None, True, False])
def test_a_withdrawal_and_a_soft_opt_in_need_no_act(pre_ticked: bool | None) -> None:
    """DESIGN §4.1: an opt-out is never refused for paperwork; a soft opt-in is not consent, and its
    collection context is its proof."""
    assert affirmation_refusals(Decision.WITHDRAWN, None, pre_ticked, "") == []
    assert affirmation_refusals(Decision.GRANTED, None, pre_ticked, "", soft_opt_in=True) == []


def test_evidence_without_an_act_hashes_as_before_and_the_act_is_part_of_the_hash() -> None:
    """Events recorded before the act was kept keep their evidence hashes; none is invented for them."""
    older = {"form_id": "signup-2", "ip": "192.0.2.1"}
    canonical = json.dumps(older, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    stored = Evidence.stored(older)
    assert evidence_digest(stored) == hashlib.sha256(canonical).hexdigest()
    assert (stored.affirmative_action, stored.pre_ticked) == (None, None)
    acted = replace(stored, affirmative_action=AffirmativeAction.SIGNED, pre_ticked=False)
    assert evidence_digest(acted) != evidence_digest(stored)
    assert evidence_digest(acted) != evidence_digest(
        replace(acted, affirmative_action=AffirmativeAction.SAID_YES)
    )
    kept = Evidence.stored(json.loads(json.dumps(acted.as_dict())))
    assert kept == acted and kept.affirmative_action is AffirmativeAction.SIGNED
