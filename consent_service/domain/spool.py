"""Opt-outs kept on local disk while the database is away (DESIGN §4.1, §4.2).

A family who presses "unsubscribe" while the database cannot answer is still told "done": the
opt-out is written to a spool on this host's disk, synced, and only then confirmed. Until it is
applied to the database it counts as the suppression it will become, so no check on this host can
answer "allowed" for that address. A spooled line names the contact's fingerprint, never the
contact detail, like the suppression list itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from consent_service.domain.channels import Channel
from consent_service.domain.suppressions import Suppression, unsubscribed


class UnreadableLine(ValueError):
    """A line torn by a crash mid-write: it was never confirmed to anyone, so it is skipped."""


@dataclass(frozen=True, slots=True)
class SpooledOptOut:
    """One unsubscribe from one marketing purpose on one channel, as the signed link named it."""

    id: str
    fingerprint: str
    channel: Channel
    purpose: str
    at: datetime

    def as_suppression(self) -> Suppression:
        """What this opt-out will be once applied; checks treat it so from the moment it is spooled."""
        return unsubscribed(
            self.id,
            self.fingerprint,
            self.channel,
            self.purpose,
            self.at,
            self.at,
        )

    def to_line(self) -> bytes:
        record = {
            "id": self.id,
            "f": self.fingerprint,
            "c": self.channel.value,
            "p": self.purpose,
            "at": self.at.isoformat(),
        }
        return json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> SpooledOptOut:
        try:
            record = json.loads(line)
            at = datetime.fromisoformat(record["at"])
            if at.tzinfo is None:
                raise ValueError("a spooled time without its zone")
            return cls(str(record["id"]), str(record["f"]), Channel(record["c"]), str(record["p"]), at)
        except (ValueError, KeyError, TypeError) as exc:
            raise UnreadableLine(str(exc)) from exc


def spooled_suppressions(
    spooled: frozenset[SpooledOptOut], fingerprints: Iterable[str]
) -> dict[str, list[Suppression]]:
    """The spooled opt-outs for these fingerprints, as suppressions keyed by fingerprint."""
    wanted = set(fingerprints)
    found: dict[str, list[Suppression]] = {}
    for entry in spooled:
        if entry.fingerprint in wanted:
            found.setdefault(entry.fingerprint, []).append(entry.as_suppression())
    return found
