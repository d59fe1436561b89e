"""Staff accounts for the phone-call page: a username, a display name, a role and a password hash; and
the audit trail of what happened to them (sign-ins, failed sign-ins, sign-outs, account changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

MIN_PASSWORD_LENGTH = 12


class Role(StrEnum):
    """``staff`` takes calls; a ``lead`` may also do what cannot be undone or reaches past one call:
    lift a safeguarding restriction, erase, export for a subject access request, manage accounts."""

    STAFF = "staff"
    LEAD = "lead"


@dataclass(frozen=True, slots=True)
class StaffAccount:
    id: str
    username: str
    display_name: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None
    role: Role = Role.STAFF

    @property
    def is_lead(self) -> bool:
        return self.role is Role.LEAD


class AuditAction(StrEnum):
    SIGNED_IN = "signed_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGNED_OUT = "signed_out"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_DISABLED = "account_disabled"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name, not a password)
    ROLE_CHANGED = "role_changed"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the staff audit trail; appended, never changed.

    Least data: ``actor`` is who did it (``staff:<username>``, or ``cli`` for the command line); ``subject``
    the account it concerned, named only when such an account exists (a failed sign-in for an unknown
    username records no username at all, and no attempted password is ever recorded).
    """

    at: datetime
    action: AuditAction
    actor: str | None
    subject: str | None
    detail: str | None = None
    #: Its place in the trail, given by the store when appended (0 until then).
    seq: int = 0


class Passwords(Protocol):
    """A slow, salted password hash (argon2 in production)."""

    def hash(self, password: str) -> str: ...
    def matches(self, password_hash: str | None, password: str) -> bool:
        """``None`` (no such account) costs the same time as a wrong password, and never matches."""
        ...
