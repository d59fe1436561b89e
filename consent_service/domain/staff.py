"""Staff accounts for the phone-call page: a username, a display name and a password hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True, slots=True)
class StaffAccount:
    id: str
    username: str
    display_name: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None


class Passwords(Protocol):
    """A slow, salted password hash (argon2 in production)."""

    def hash(self, password: str) -> str: ...
    def matches(self, password_hash: str | None, password: str) -> bool:
        """``None`` (no such account) costs the same time as a wrong password, and never matches."""
        ...
