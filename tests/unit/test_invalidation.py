"""Which kept answers a committed write can change: the topics of its changes, or everything."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent_service.domain.changes import Change, ChangeType
from consent_service.domain.invalidation import depends_on, fingerprint_topic, person_topic, touched

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def change(kind: ChangeType, **data: str) -> Change:
    return Change(kind, NOW, dict(data))


def test_a_withdrawal_a_restriction_or_a_new_person_touches_only_that_person() -> None:
    for kind in (
        ChangeType.CONSENT_RECORDED,
        ChangeType.RESTRICTION_ADDED,
        ChangeType.RESTRICTION_LIFTED,
        ChangeType.PERSON_CREATED,
    ):
        assert touched([change(kind, person_id="p1")]) == frozenset({person_topic("p1")}), kind


def test_a_suppression_touches_its_address_and_a_new_contact_point_its_address_and_person() -> None:
    for kind in (ChangeType.SUPPRESSION_ADDED, ChangeType.SUPPRESSION_LIFTED):
        named = change(kind, suppression_id="s1", fingerprint="f1")
        assert touched([named]) == frozenset({fingerprint_topic("f1")}), kind
    added = change(ChangeType.CONTACT_ADDED, person_id="p1", fingerprint="f1")
    assert touched([added]) == frozenset({person_topic("p1"), fingerprint_topic("f1")})
    # A registration: a person, a contact point and a choice, in one write.
    registration = [
        change(ChangeType.PERSON_CREATED, person_id="p2"),
        change(ChangeType.CONTACT_ADDED, person_id="p2", fingerprint="f2"),
        change(ChangeType.CONSENT_RECORDED, person_id="p2"),
    ]
    assert touched(registration) == frozenset({person_topic("p2"), fingerprint_topic("f2")})


@pytest.mark.parametrize(
    "kind",
    [
        ChangeType.SUPPRESSION_LIFTED,  # recorded before lifts named their address: only its id
        ChangeType.SUPPRESSION_LIFT_REFUSED,
        ChangeType.PERSON_UPDATED,  # may have lost a contact point
        ChangeType.PERSON_ERASED,  # its points are gone
    ],
)
def test_a_change_that_does_not_name_every_address_it_moves_touches_everything(kind: ChangeType) -> None:
    others = [change(ChangeType.CONSENT_RECORDED, person_id="p1")]
    assert touched([*others, change(kind, person_id="p1", suppression_id="s1")]) is None


def test_a_write_that_announces_nothing_touches_everything() -> None:
    """A catalogue or TPS change, an idempotent replay: not known to change no answer."""
    assert touched([]) is None


def test_an_answer_depends_on_its_addresses_and_its_people() -> None:
    assert depends_on(["f1"], ["p1", "p2"]) == {
        fingerprint_topic("f1"),
        person_topic("p1"),
        person_topic("p2"),
    }
    assert fingerprint_topic("x") != person_topic("x")
