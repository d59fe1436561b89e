"""Which answers kept in memory a committed write can change: its topics (DESIGN §4.1).

An answer to "may I contact this address?" is made of facts about the address (its suppressions, its
screening) and about the people it belongs to (their choices, restrictions, erasure). So an answer
depends on the address's fingerprint topic and each of its people's person topics; a write touches the
topics its changes name. A worker drops the answers that depend on a topic a write touched, and keeps
the rest: a withdrawal for one family no longer empties every worker's memory.

Where a change does not say enough to know every answer it moves, it touches everything (``None``):
a person updated may have lost a contact point, an erased person's points are gone, a lift recorded
before lifts named their address says only its id, and a write that announces nothing (a catalogue
or TPS change, an idempotent replay) is not known to change no answer. Everything is always safe; a
topic too few would be a stale allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from consent_service.domain.changes import Change, ChangeType

#: Changes whose answers are exactly those of the person they name.
_ABOUT_A_PERSON = frozenset(
    {
        ChangeType.CONSENT_RECORDED,
        ChangeType.PERSON_CREATED,
        ChangeType.RESTRICTION_ADDED,
        ChangeType.RESTRICTION_LIFTED,
    }
)


def fingerprint_topic(fingerprint: str) -> str:
    return f"f:{fingerprint}"


def person_topic(person_id: str) -> str:
    return f"p:{person_id}"


def touched(changes: Sequence[Change]) -> frozenset[str] | None:
    """The topics a committed write's changes touch, or None for everything."""
    if not changes:
        return None
    topics: set[str] = set()
    for change in changes:
        if change.type in _ABOUT_A_PERSON:
            topics.add(person_topic(change.data["person_id"]))
        elif change.type is ChangeType.CONTACT_ADDED:
            # The address now belongs to the person: its answers and theirs both move.
            topics.add(person_topic(change.data["person_id"]))
            topics.add(fingerprint_topic(change.data["fingerprint"]))
        elif change.type is ChangeType.SUPPRESSION_ADDED:
            topics.add(fingerprint_topic(change.data["fingerprint"]))
        elif change.type is ChangeType.SUPPRESSION_LIFTED and "fingerprint" in change.data:
            # A lift recorded before lifts named their address (in a feed read back) says only its id.
            topics.add(fingerprint_topic(change.data["fingerprint"]))
        else:
            return None
    return frozenset(topics)


def depends_on(fingerprints: Iterable[str], person_ids: Iterable[str]) -> frozenset[str]:
    """The topics an answer read from these addresses and people depends on."""
    return frozenset([*map(fingerprint_topic, fingerprints), *map(person_topic, person_ids)])


@dataclass(frozen=True, slots=True)
class FeedView:
    """What a worker read of the change feed since the position it gave (``ports.py: ChangeFeed``).

    ``generation`` changes whenever a write touched everything (or the feed was lost and made again);
    ``position`` is the last change read (None where the feed keeps no log and every write moves the
    generation); ``topics`` are those touched after the position asked for, up to ``position``;
    ``complete`` is False when not all of them could be read (then the worker forgets everything).
    """

    generation: str
    position: int | None = None
    topics: tuple[str, ...] = ()
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Seen:
    """How far a worker had followed the change feed when a check began. The answer the check reads
    may be kept only under the same ``epoch`` (the worker forgets everything when it moves) and only if
    nothing it depends on changed after ``position``; ``at`` is when that read of the feed began."""

    epoch: int
    position: int | None
    at: float = field(compare=False)
