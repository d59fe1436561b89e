"""People and the contact points recorded for them. As little as possible is held about a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from consent_service.domain.channels import ContactKind


@dataclass(frozen=True, slots=True)
class RecordedContact:
    id: str
    person_id: str
    kind: ContactKind
    value: str
    fingerprint: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    created_at: datetime
    reference: str | None = None
    household: str | None = None
    display_name: str | None = None
    erased_at: datetime | None = None
    contacts: tuple[RecordedContact, ...] = field(default=())
    #: ``YYYY-MM``, never the day (least data): enough to tell a child from an adult (domain/children.py).
    birth_month: str | None = None


def first_name(display_name: str | None) -> str | None:
    """How a page reached by a shared address's link names each person on it: the first word of the
    name held, nothing more. Whoever holds the link already reads that household's messages; the first
    name tells them whose choices they see without showing a surname or any other detail."""
    words = (display_name or "").split()
    return words[0] if words else None
