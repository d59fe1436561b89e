"""Tables. Times are stored as UTC; channel '' stands for "no channel" so it can sit in a primary key."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false
from sqlalchemy.sql.expression import true as sa_true
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones and hands back naive values; SQLAlchemy has no built-in type that
    normalises both directions, hence this small decorator (the recipe from its documentation).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


metadata = Base.metadata

Id = String(36)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class PurposeRow(Base):
    __tablename__ = "purposes"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    #: channel (or "" for none) -> basis
    bases: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    #: Other controllers rely on a consent to it: a grant must cite a wording that names them.
    shares_with_controllers: Mapped[bool] = mapped_column(default=False, server_default=sa_false())


class NoticeRow(Base):
    __tablename__ = "notice_versions"
    __table_args__ = (UniqueConstraint("purpose", "version", name="uq_notice_versions_purpose_version"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    purpose: Mapped[str] = mapped_column(ForeignKey("purposes.code"))
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    #: A consent request, a privacy notice or terms: only the first can back a grant.
    kind: Mapped[str] = mapped_column(String(20), default="consent_request", server_default="consent_request")
    #: The other controllers the wording names as relying on the consent.
    controllers: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class PersonRow(Base):
    __tablename__ = "people"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(200), unique=True)
    household: Mapped[str | None] = mapped_column(String(200))
    #: Sealed (``domain/sealing.py``): found by ``PersonNameTermRow``, never by its text.
    display_name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]
    #: ``YYYY-MM``: a child is told from an adult without holding a date of birth (LEGAL #30).
    birth_month: Mapped[str | None] = mapped_column(String(7))


class ContactPointRow(Base):
    __tablename__ = "contact_points"
    __table_args__ = (
        UniqueConstraint("person_id", "fingerprint", name="uq_contact_points_person_fingerprint"),
    )
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: Sealed (``domain/sealing.py``): found by its fingerprint, never by its text.
    value: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    #: A postal address's postcode as a keyed digest, so staff can find the people at a postcode.
    postcode_index: Mapped[str | None] = mapped_column(String(64), index=True)


class PersonNameTermRow(Base):
    """A keyed digest of a run of two or three characters of a person's name: how staff find a sealed name."""

    __tablename__ = "person_name_terms"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class LedgerHeadRow(Base):
    """One row: where the single hash chain ended (its last sequence number and hash; 0 and the genesis
    hash if it held nothing). Every event up to it joined one chain, which made every write in the
    deployment wait for the one before; events after it are chained per person (``PersonChainRow``).
    It never moves now; checkpoints lock it to take turns with each other, and nothing else does."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class PersonChainRow(Base):
    """The head of one person's hash chain: the sequence number and hash of their last event (0 and the
    genesis hash before their first). Locking it makes writes for one person take turns, and only them."""

    __tablename__ = "person_chains"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    #: Whether this head, as it stands, is in a checkpoint; every new event sets it false.
    checkpointed: Mapped[bool] = mapped_column(default=True, server_default=sa_true())


class LedgerCheckpointRow(Base):
    """A record of the person chains' heads that moved since the one before, chained to it by hash: a
    head once checkpointed pins its chain, so removing a person's events (all of them, or the last
    ones with their head) is found by ``audit verify``."""

    __tablename__ = "ledger_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    made_at: Mapped[datetime]
    heads: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerCheckpointHeadRow(Base):
    __tablename__ = "ledger_checkpoint_heads"
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("ledger_checkpoints.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(Id, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ConsentEventRow(Base):
    """Append-only: the migration adds triggers refusing UPDATE, DELETE and TRUNCATE on both databases,
    but for erasure's blanking of ``evidence``; a new column must join the SQLite trigger's list."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_person", "person_id", "purpose", "channel", "effective_at"),
        # A person's chain, in order: what a write reads nothing of, and ``audit verify`` walks.
        Index("ix_consent_events_chain", "person_id", "seq"),
    )
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    notice_id: Mapped[str | None] = mapped_column(ForeignKey("notice_versions.id"))
    evidence: Mapped[dict[str, Any]]
    evidence_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: Names of the paperwork the event lacked (an opt-out is recorded anyway, DESIGN §4.1); [] if complete.
    evidence_gaps: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    #: The lawful basis as it stood when recorded; NULL for events recorded before it was kept.
    basis: Mapped[str | None] = mapped_column(String(32))


class CurrentConsentRow(Base):
    """The fold of the ledger per person, purpose and channel, kept in the same transaction as the events."""

    __tablename__ = "current_consents"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime]
    event_id: Mapped[str] = mapped_column(ForeignKey("consent_events.id"))
    notice_id: Mapped[str | None] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(32))
    collection_context: Mapped[dict[str, Any] | None]


class SuppressionRow(Base):
    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_listing", "recorded_at", "id"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    #: a channel, or "all"
    channel: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    #: How a request staff added reached them (``SuppressionHow``): a code, never free text (0016).
    how: Mapped[str | None] = mapped_column(String(16))
    effective_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    #: A ``LiftReason`` code (free text until migration 0016).
    lift_reason: Mapped[str | None] = mapped_column(String(32))
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    #: As on consent events: what the request lacked; the entry was added anyway (DESIGN §4.1).
    evidence_gaps: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class TpsScreeningRow(Base):
    """One imported TPS/CTPS screening file: which register, the day it was screened, and when imported."""

    __tablename__ = "tps_screenings"
    __table_args__ = (UniqueConstraint("register", "screened_on", name="uq_tps_screenings_register_day"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    register: Mapped[str] = mapped_column(String(8))
    #: The day the list was screened, as midnight UTC (a date on every backend alike).
    screened_on: Mapped[datetime]
    imported_at: Mapped[datetime]
    numbers: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))


class TpsNumberRow(Base):
    """A number found on a register, by fingerprint, with the latest screening that found it."""

    __tablename__ = "tps_numbers"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    register: Mapped[str] = mapped_column(String(8), primary_key=True)
    screened_on: Mapped[datetime]


class RestrictionRow(Base):
    """Safeguarding: no contact with a person, or at one of their contact points, on a channel or all."""

    __tablename__ = "restrictions"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    #: a channel, or "all"
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str | None] = mapped_column(Text)
    lifted_by: Mapped[str | None] = mapped_column(String(200))


class AccessRequestRow(Base):
    """A subject access request, tracked from receipt to answer (UK GDPR Art 12(3), Art 15)."""

    __tablename__ = "access_requests"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    #: Calendar dates: the month runs from the day the request arrived.
    received_on: Mapped[date]
    due_on: Mapped[date] = mapped_column(index=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(200))


class LegalHoldRow(Base):
    """A person's record kept whole: retention passes it by and erasure is refused while it stands."""

    __tablename__ = "legal_holds"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))


class StaffAccountRow(Base):
    __tablename__ = "staff_accounts"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    role: Mapped[str] = mapped_column(String(20), default="staff")


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"
    owner: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ProviderEventRow(Base):
    """A mail provider's event (or Mailgun token) already handled: a retry or replay finds it here."""

    __tablename__ = "provider_events"
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime]


#: SQLite only numbers a row by itself for INTEGER PRIMARY KEY; PostgreSQL needs the 64-bit type.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxRow(Base):
    """Every committed change, written in the change's own transaction (the transactional outbox).

    ``seq`` orders rows as they were inserted, which is not the order they became visible; ``position``
    is given after commit, by one relay at a time, so the feed only ever grows at its end.
    """

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(Id, unique=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)


class OutboxCursorRow(Base):
    """How far each consumer of the outbox has got; the row ``positions`` is the relay's own lock."""

    __tablename__ = "outbox_cursors"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class WebhookRow(Base):
    __tablename__ = "webhooks"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    #: the last feed position delivered (or dead-lettered)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the last position of the batch being sent, so a retry sends the same batch (same webhook-id)
    pending_through: Mapped[int | None] = mapped_column(BigInteger)


class WebhookDeadLetterRow(Base):
    """A change a webhook would not take after every retry: kept to inspect and replay."""

    __tablename__ = "webhook_dead_letters"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id"), index=True)
    position: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(Id)
    #: the event as it would have been delivered, so replay does not depend on the outbox's retention
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime]
    replayed_at: Mapped[datetime | None]


class StaffAuditRow(Base):
    """Append-only: the migration adds triggers that refuse UPDATE and DELETE on both databases."""

    __tablename__ = "staff_audit"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(String(500))
