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
