"""Safeguarding contact restrictions (DESIGN §2): staff-only, and they block administrative contact too.

"Do not contact this person", or "not at this address", or "not by post": unlike a marketing
opt-out, a restriction stops every message, because contacting the family could put someone at risk.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from consent_service.domain.channels import Channel


@dataclass(frozen=True, slots=True)
class Restriction:
    """``fingerprint`` None: every contact point of the person; ``channel`` None: every channel."""

    id: str
    person_id: str
    fingerprint: str | None
    channel: Channel | None
    reason: str
    created_by: str
    created_at: datetime
    lifted_at: datetime | None = None
    lift_reason: str | None = None
    lifted_by: str | None = None

    def in_force_at(self, at: datetime) -> bool:
        return self.created_at <= at and (self.lifted_at is None or self.lifted_at > at)

    def restricts(self, channel: Channel | None, fingerprints: Collection[str], at: datetime) -> bool:
        """Whether a message on ``channel`` to any of ``fingerprints`` is stopped at ``at``."""
        return (
            self.in_force_at(at)
            and self.channel in (None, channel)
            and (self.fingerprint is None or self.fingerprint in fingerprints)
        )


def restricted(
    restrictions: Iterable[Restriction],
    person_id: str,
    channel: Channel | None,
    fingerprints: Collection[str],
    at: datetime,
) -> bool:
    return any(r.person_id == person_id and r.restricts(channel, fingerprints, at) for r in restrictions)
