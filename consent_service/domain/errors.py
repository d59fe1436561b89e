"""Domain errors. The API maps each to an RFC 9457 problem in one place (api/problems.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rejected field: a JSON-path-like name and a message a person can act on."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the rules raise on purpose."""

    title = "Request refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request names things that do not exist or do not fit together; nothing was written."""

    title = "Invalid input"

    def __init__(self, errors: list[FieldError], detail: str = "The request has invalid fields.") -> None:
        super().__init__(detail)
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldError(field, message)], detail=message)


class InvalidContact(ValueError):
    """A contact value (email, phone, postal address) that cannot be normalised."""


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    title = "Conflict"


class ObjectionStands(Conflict):
    """An objection to direct marketing is absolute (UK GDPR Art 21(3)): no key or staff member lifts
    it; only the person's own fresh grant re-opens a purpose and channel. The attempt is recorded."""

    title = "An objection cannot be lifted"


class ConcurrentChange(Conflict):
    """Another transaction wrote the same row first; running the whole request again will see it."""

    title = "Concurrent change"


class IdempotencyConflict(Conflict):
    title = "Idempotency key reused with another request"


class StoreUnavailable(DomainError):
    """The database did not answer in time; callers fail closed for marketing."""

    title = "Store unavailable"
