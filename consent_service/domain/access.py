"""Subject access (UK GDPR Art 15) and its clock (Art 12(3)): who changed a person's record, the
one-month due date of a request, and whether a request is overdue; and the legal hold that keeps a
person's record from deletion by retention or erasure."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from consent_service.domain.errors import Conflict
from consent_service.domain.ledger import ConsentEvent
from consent_service.domain.restrictions import Restriction
from consent_service.domain.suppressions import Suppression


@dataclass(frozen=True, slots=True)
class StaffChange:
    """One change to the person's record and who made it: ``by`` is the API key or staff account
    that wrote it, ``staff_member`` the person the paperwork names (a phone call's taker)."""

    at: datetime
    by: str
    what: str
    staff_member: str | None = None


def staff_changes(
    events: Iterable[ConsentEvent], restrictions: Iterable[Restriction], suppressions: Iterable[Suppression]
) -> list[StaffChange]:
    """Every recorded change, oldest first, with who recorded it."""
    changes = [
        StaffChange(
            e.recorded_at,
            e.actor,
            f"recorded {e.purpose} by {e.channel.value if e.channel else '-'} {e.decision.value} "
            f"(via {e.source.value})",
            e.evidence.staff_member,
        )
        for e in events
    ]
    for r in restrictions:
        channel = r.channel.value if r.channel else "all"
        changes.append(StaffChange(r.created_at, r.created_by, f"restricted contact by {channel}"))
        if r.lifted_at and r.lifted_by:
            changes.append(StaffChange(r.lifted_at, r.lifted_by, f"lifted the restriction on {channel}"))
    for x in suppressions:
        channel = x.channel.value if x.channel else "all"
        changes.append(StaffChange(x.recorded_at, x.actor, f"suppressed {channel} ({x.reason.value})"))
        if x.lifted_at and x.lifted_by:
            changes.append(StaffChange(x.lifted_at, x.lifted_by, f"lifted the suppression on {channel}"))
    return sorted(changes, key=lambda c: c.at)


def one_month_after(received: date) -> date:
    """Art 12(3)'s "one month of receipt", as the ICO reads it: the same date in the next month, or
    that month's last day where it has no such date (31 January → 28 or 29 February).

    Hand-written because the domain uses the standard library alone, which has no month arithmetic."""
    year, month = (received.year + 1, 1) if received.month == 12 else (received.year, received.month + 1)
    return date(year, month, min(received.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A subject access request, tracked from receipt to answer."""

    id: str
    person_id: str
    received_on: date
    due_on: date
    recorded_by: str
    recorded_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None

    def overdue(self, today: date) -> bool:
        return self.answered_at is None and today > self.due_on


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A person's record kept whole for a claim, an investigation or a court: retention passes them
    by and erasure is refused while it stands (Art 17(3)(e))."""

    id: str
    person_id: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None


class UnderLegalHold(Conflict):
    """Erasure refused: the record is held for the establishment, exercise or defence of legal claims
    (UK GDPR Art 17(3)(e)). The hold's release lets the erasure go ahead."""

    title = "The person's record is under a legal hold"

    def __init__(self, hold: LegalHold) -> None:
        super().__init__(
            f"legal hold {hold.id} since {hold.placed_at:%d %B %Y} ({hold.reason}): the record may not "
            "be erased until the hold is released"
        )
        self.hold = hold
