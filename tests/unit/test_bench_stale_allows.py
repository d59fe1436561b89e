"""The bench's stale-allow proof (bench/mixed.py): which checks count against a withdrawal, and which not."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from mixed import CheckSeen, checked_after_ack, stale_allows

ACKNOWLEDGED = {"gone@example.org": 10.0}


def test_an_allow_started_after_the_acknowledgement_is_stale() -> None:
    late = CheckSeen("gone@example.org", 10.5, allowed=True)

    assert stale_allows([late], ACKNOWLEDGED) == [late]


def test_an_allow_started_before_the_acknowledgement_is_not_stale() -> None:
    """A check in flight while the withdrawal commits may answer either way: it started before the ack."""
    checks = [CheckSeen("gone@example.org", 9.9, allowed=True), CheckSeen("gone@example.org", 10.0, True)]

    assert stale_allows(checks, ACKNOWLEDGED) == []


def test_a_denial_after_the_acknowledgement_is_not_stale_but_counts_towards_the_proof() -> None:
    checks = [CheckSeen("gone@example.org", 11.0, allowed=False), CheckSeen("gone@example.org", 9.0, True)]

    assert stale_allows(checks, ACKNOWLEDGED) == []
    assert checked_after_ack(checks, ACKNOWLEDGED) == 1


def test_addresses_never_withdrawn_are_not_counted() -> None:
    checks = [CheckSeen("kept@example.org", 20.0, allowed=True)]

    assert stale_allows(checks, ACKNOWLEDGED) == []
    assert checked_after_ack(checks, ACKNOWLEDGED) == 0
