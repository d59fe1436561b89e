"""API keys and their scopes (DESIGN §4.7): random, shown once, stored hashed, revocable, optionally
expiring."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PREFIX = "csk_"


class KeyScope(StrEnum):
    FORMS = "forms"
    CHECKS = "checks"
    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[KeyScope]
    created_at: datetime
    revoked_at: datetime | None = None
    #: After this moment the key is refused, as if revoked (None: it does not expire).
    expires_at: datetime | None = None
    #: Recorded coarsely (at most once a minute per key per worker), so it may be up to a minute old.
    last_used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def new_secret() -> str:
    """256 random bits, URL-safe, with a prefix that secret scanners can recognise."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(secret: str) -> str:
    """SHA-256 suffices here: the key is 256 random bits, so there is nothing for a slow hash to stretch."""
    return hashlib.sha256(secret.encode()).hexdigest()


def may_grant(holder: frozenset[KeyScope], wanted: frozenset[KeyScope]) -> bool:
    """A key can only make keys with scopes it holds itself."""
    return wanted <= holder
