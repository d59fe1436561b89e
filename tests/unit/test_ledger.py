"""The consent ledger: the fold that gives the current state (DESIGN §2) and the hash chain (§4.3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from consent_service.domain.channels import Channel
from consent_service.domain.ledger import (
    GENESIS_HASH,
    ConsentEvent,
    Decision,
    Evidence,
    Source,
    event_digest,
    evidence_digest,
    first_broken_link,
    fold,
)
from consent_service.domain.purposes import Basis

GRANTED, WITHDRAWN = Decision.GRANTED, Decision.WITHDRAWN
JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
EMAIL_MARKETING = ("marketing", Channel.EMAIL)

Tamper = Callable[[ConsentEvent], ConsentEvent]


def event(
    event_id: str,
    decision: Decision,
    effective_at: datetime,
    *,
    purpose: str = "marketing",
    channel: Channel | None = Channel.EMAIL,
    recorded_at: datetime | None = None,
    source: Source = Source.WEB_FORM,
    seq: int = 0,
    note: str | None = None,
) -> ConsentEvent:
    return ConsentEvent(
        id=event_id,
        seq=seq,
        person_id="person-1",
        purpose=purpose,
        channel=channel,
        decision=decision,
        effective_at=effective_at,
        recorded_at=recorded_at or effective_at,
        source=source,
        actor="client:test",
        notice_id="notice-1" if decision is GRANTED else None,
        evidence=Evidence(form_id="form-7", note=note),
    )


def chain(events: list[ConsentEvent]) -> list[ConsentEvent]:
    """Number and hash the events as the store records them, each linked to the one before."""
    chained, prev = [], GENESIS_HASH
    for seq, raw in enumerate(events, start=1):
        draft = replace(raw, seq=seq, evidence_hash=evidence_digest(raw.evidence), prev_hash=prev)
        linked = replace(draft, hash=event_digest(draft, prev))
        chained.append(linked)
        prev = linked.hash
    return chained


# The fold


def test_fold_follows_effective_time_not_arrival() -> None:
    # The withdrawal was recorded first; the grant, said earlier, was keyed in later from paper.
    withdrawal = event("w", WITHDRAWN, FEB, recorded_at=FEB)
    paper_grant = event("g", GRANTED, JAN, recorded_at=MAR, source=Source.PAPER_FORM)

    state = fold([withdrawal, paper_grant])

    assert state[EMAIL_MARKETING].decision is WITHDRAWN
    assert state[EMAIL_MARKETING].event_id == "w"


@pytest.mark.parametrize("arrival", ["grant first", "grant last"])
def test_late_arriving_older_grant_never_overrides_a_newer_withdrawal(arrival: str) -> None:
    grant = event("g", GRANTED, JAN, recorded_at=APR)
    withdrawal = event("w", WITHDRAWN, FEB, recorded_at=FEB)
    events = [grant, withdrawal] if arrival == "grant first" else [withdrawal, grant]

    assert fold(events)[EMAIL_MARKETING].event_id == "w"


def test_a_newer_grant_after_a_withdrawal_is_current() -> None:
    events = [event("g1", GRANTED, JAN), event("w", WITHDRAWN, FEB), event("g2", GRANTED, MAR)]

    current = fold(events)[EMAIL_MARKETING]

    assert current.decision is GRANTED
    assert current.event_id == "g2"


def test_fold_at_a_time_gives_the_state_as_it_stood_then() -> None:
    events = [event("g", GRANTED, JAN, recorded_at=APR), event("w", WITHDRAWN, MAR)]

    assert fold(events, at=FEB)[EMAIL_MARKETING].event_id == "g"
    assert fold(events, at=MAR)[EMAIL_MARKETING].event_id == "w"
    assert fold(events, at=APR)[EMAIL_MARKETING].event_id == "w"
    assert EMAIL_MARKETING not in fold(events, at=JAN - timedelta(seconds=1))


@pytest.mark.parametrize(("first", "second"), [("grant", "withdrawal"), ("withdrawal", "grant")])
def test_on_a_tie_withdrawal_wins_whatever_the_arrival_order(first: str, second: str) -> None:
    # Ids chosen so that the id tie-break alone would pick the grant.
    by_name = {"grant": event("zz-grant", GRANTED, FEB), "withdrawal": event("aa-withdrawal", WITHDRAWN, FEB)}

    current = fold([by_name[first], by_name[second]])[EMAIL_MARKETING]

    assert current.decision is WITHDRAWN
    assert current.event_id == "aa-withdrawal"


def test_each_purpose_and_channel_is_folded_on_its_own() -> None:
    events = [
        event("email-grant", GRANTED, JAN),
        event("sms-withdrawal", WITHDRAWN, FEB, channel=Channel.SMS),
        event("story-grant", GRANTED, MAR, purpose="testimonial", channel=None),
    ]

    state = fold(events)

    assert {key: current.decision for key, current in state.items()} == {
        ("marketing", Channel.EMAIL): GRANTED,
        ("marketing", Channel.SMS): WITHDRAWN,
        ("testimonial", None): GRANTED,
    }


def test_fold_is_independent_of_arrival_order() -> None:
    events = [
        event("e1", GRANTED, JAN),
        event("e2", WITHDRAWN, FEB),
        event("e3", GRANTED, FEB),  # ties with e2: the withdrawal must still win
        event("e4", GRANTED, MAR, channel=Channel.SMS),
        event("e5", GRANTED, MAR, channel=Channel.SMS),  # same time, same decision: a stable pick
        event("e6", WITHDRAWN, JAN, channel=Channel.SMS),
    ]
    expected = fold(events)
    assert expected[EMAIL_MARKETING].event_id == "e2"

    for order in permutations(events):
        assert fold(order) == expected
        assert fold(order, at=FEB) == fold(events, at=FEB)


# The hash chain


def ledger() -> list[ConsentEvent]:
    return chain(
        [
            event("e1", GRANTED, JAN, note="ticked the box on the leaflet"),
            event("e2", WITHDRAWN, FEB, note="rang the office"),
            event("e3", GRANTED, MAR, channel=Channel.SMS),
            event("e4", GRANTED, APR, purpose="testimonial", channel=None),
        ]
    )


def test_an_untouched_chain_verifies() -> None:
    events = ledger()

    assert events[0].prev_hash == GENESIS_HASH
    assert first_broken_link(events) is None


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda e: replace(e, decision=GRANTED), id="withdrawal turned into a grant"),
        pytest.param(lambda e: replace(e, effective_at=e.effective_at + timedelta(days=40)), id="backdated"),
        pytest.param(lambda e: replace(e, evidence=replace(e.evidence, note="never rang")), id="evidence"),
        pytest.param(lambda e: replace(e, channel=Channel.POST), id="channel"),
        pytest.param(lambda e: replace(e, source=Source.IMPORT), id="source"),
        pytest.param(lambda e: replace(e, prev_hash=GENESIS_HASH), id="stored link"),
    ],
)
def test_the_verifier_finds_exactly_the_tampered_event(tamper: Tamper) -> None:
    events = ledger()
    tampered = tamper(events[1])
    events[1] = tampered

    assert first_broken_link(events) is tampered


def test_rehashing_a_tampered_event_is_caught_at_the_next_link() -> None:
    events = ledger()
    forged = replace(events[1], decision=GRANTED)
    events[1] = replace(forged, hash=event_digest(forged, forged.prev_hash))

    assert first_broken_link(events) is events[2]


@pytest.mark.parametrize("removed", [0, 1, 2])
def test_a_deleted_event_breaks_the_chain_at_the_one_after_it(removed: int) -> None:
    events = ledger()
    after = events[removed + 1]
    del events[removed]

    assert first_broken_link(events) is after


def test_the_basis_as_it_stood_is_sealed_and_older_events_keep_their_hashes() -> None:
    # An event from before the basis was kept: hashed without it, as it was then.
    old = event("old", GRANTED, JAN)
    kept = replace(old, basis=Basis.CONSENT)
    assert event_digest(old, GENESIS_HASH) != event_digest(kept, GENESIS_HASH)
    # Exactly the pre-0012 digest: the body without a basis key.
    legacy_body = {
        "id": "old",
        "seq": 0,
        "person_id": "person-1",
        "purpose": "marketing",
        "channel": "email",
        "decision": "granted",
        "effective_at": JAN.isoformat(),
        "recorded_at": JAN.isoformat(),
        "source": "web_form",
        "actor": "client:test",
        "notice_id": "notice-1",
        "evidence_hash": "",
    }
    canonical = json.dumps(legacy_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert event_digest(old, GENESIS_HASH) == hashlib.sha256(GENESIS_HASH.encode() + canonical).hexdigest()

    events = chain([old, replace(event("new", GRANTED, FEB), basis=Basis.CONSENT)])
    assert first_broken_link(events) is None
    # Rewriting the sealed basis afterwards (as a catalogue edit might tempt) breaks the chain.
    rewritten = [events[0], replace(events[1], basis=Basis.LEGITIMATE_INTERESTS)]
    assert first_broken_link(rewritten) is rewritten[1]
    # So does stripping it.
    assert first_broken_link([events[0], replace(events[1], basis=None)]) is not None
