"""Storage limitation (UK GDPR Art 5(1)(e)): how long each kind of record is kept, and why, as one
table the ``retention rules`` command prints and docs/COMPLIANCE.md row 28 cites. A legal hold on a
person (``domain/access.py: LegalHold``) overrides every rule that would delete or erase their record."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetentionRule:
    record: str
    kept: str
    why: str


def rules(inactive_years: int | None, idempotency_days: int, outbox_days: int) -> tuple[RetentionRule, ...]:
    """Each record type's rule under these settings."""
    erasure = (
        f"erased after {inactive_years} years with no activity (retention run)"
        if inactive_years
        else "until erased on request (no CONSENT_RETENTION_INACTIVE_YEARS)"
    )
    return (
        RetentionRule("people and contact details", erasure, "needed only while we may contact them"),
        RetentionRule(
            "consent events",
            f"evidence with the person ({erasure}); the de-personalised event for ever",
            "proof of consent (Art 7(1)) and the hash chain's integrity",
        ),
        RetentionRule(
            "suppressions and erasure tombstones",
            "for ever, as fingerprints only",
            "so an opt-out or an erased person is never marketed to again (Art 17(3), Art 21(3))",
        ),
        RetentionRule(
            "idempotency keys and kept answers",
            f"{idempotency_days} days (retention run)",
            "a retry replays its answer; the answer names the person, so it also goes on erasure",
        ),
        RetentionRule(
            "change feed and outbox",
            f"{outbox_days} days after being told (relay)",
            "a mailing tool catching up reads it; ids and fingerprints only",
        ),
        RetentionRule(
            "subject access requests and legal holds",
            "with the person's record",
            "to show a request was answered within its month, and why a record was kept",
        ),
        RetentionRule(
            "audit trails (staff audit, refused lifts)",
            "for ever, append-only",
            "accountability (Art 5(2)); they hold account names and ids, no contact details",
        ),
    )
