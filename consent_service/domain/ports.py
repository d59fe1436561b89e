"""What the use cases need from the outside world, as protocols the persistence layer implements."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Protocol, TypeVar, runtime_checkable

from consent_service.domain.access import AccessRequest, LegalHold
from consent_service.domain.changes import Change, DeadLetter, PublishedChange, Webhook
from consent_service.domain.channels import Channel
from consent_service.domain.decision import Answer
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.keys import ApiKey
from consent_service.domain.ledger import ConsentEvent, CurrentConsent
from consent_service.domain.notices import NoticeKind, NoticeVersion
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.purposes import Purpose
from consent_service.domain.restrictions import Restriction
from consent_service.domain.spool import SpooledOptOut
from consent_service.domain.staff import AuditEntry, Role, StaffAccount
from consent_service.domain.suppressions import Suppression, SuppressionReason
from consent_service.domain.tps import Register

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


class ChangeSignal(Protocol):
    """A token that changes whenever any choice changes, seen by every worker that shares it.

    A cached answer is trusted only while the token it was stored under is still current; a writer
    changes the token after its commit and before it acknowledges the change.

    ``lease`` is how long a reader may go on trusting a token it read without reading it again; a
    writer waits that long after changing the token before it acknowledges, so a reader's lease taken
    before the change has ended by the time anyone is told of it. Zero when reading costs nothing.
    """

    lease: float

    async def current(self) -> str | None:
        """The token now, or None when it cannot be read (then nothing cached may be trusted)."""
        ...

    async def bump(self) -> bool:
        """Change the token; False when that could not be done."""
        ...

    async def close(self) -> None: ...


class CatalogueRepository(Protocol):
    async def purposes(self) -> list[Purpose]: ...
    async def add_purpose(self, purpose: Purpose, at: datetime) -> None: ...
    async def notices(self, purpose: str | None = None) -> list[NoticeVersion]: ...
    async def add_notice(
        self,
        purpose: str,
        text: str,
        language: str,
        published_at: datetime,
        kind: NoticeKind,
        controllers: tuple[str, ...] = (),
    ) -> NoticeVersion:
        """Stores the wording as the purpose's next version, with the other controllers it names."""
        ...


class PeopleRepository(Protocol):
    async def add(self, person: Person) -> None: ...
    async def get(self, person_id: str) -> Person | None: ...
    async def by_reference(self, reference: str) -> Person | None: ...
    async def by_fingerprint(self, fingerprint: str) -> list[Person]: ...
    async def add_contact(self, contact: RecordedContact) -> RecordedContact:
        """Adds the contact point unless the person has it already; returns the one stored: ``contact``
        itself when it was added, else the one the person held."""
        ...

    async def linked(self, fingerprints: Sequence[str]) -> dict[str, list[tuple[str, bool]]]:
        """For each fingerprint, the people holding it as (person id, erased)."""
        ...

    async def update(self, person: Person) -> None:
        """Rectification: reference, household and display name as given."""
        ...

    async def by_name(self, text: str, limit: int) -> list[Person]: ...
    async def by_postcode(self, postcode: str, limit: int) -> list[Person]:
        """People not erased with a postal address at this normalised postcode."""
        ...

    async def remove_contact(self, person_id: str, contact_id: str) -> bool:
        """Drop one contact point of the person; False when the person holds no such point."""
        ...

    async def household(self, household: str) -> list[Person]: ...
    async def erase(self, person_id: str, at: datetime) -> None:
        """Remove the person's identifying fields and every contact point; keep the id and erased_at."""
        ...

    async def inactive_since(self, cutoff: datetime) -> list[str]:
        """People not erased, created before ``cutoff`` and with no event recorded since."""
        ...

    async def opens_under_key(self) -> bool:
        """Whether the newest contact point held opens under the key in force (True when none is)."""
        ...


class Ledger(Protocol):
    async def head_for_update(self) -> tuple[int, str]:
        """The last sequence number and hash, locked until the transaction ends."""
        ...

    async def set_head(self, seq: int, hash_: str) -> None: ...
    async def append(self, event: ConsentEvent) -> None: ...
    async def events(self, person_ids: Sequence[str], purpose: str | None = None) -> list[ConsentEvent]:
        """Events of these people (and purpose), in recording order."""
        ...

    async def current(
        self, person_ids: Sequence[str], purpose: str | None = None, channel: Channel | None = None
    ) -> dict[str, list[CurrentConsent]]: ...
    async def save_current(self, person_id: str, consent: CurrentConsent) -> None: ...
    async def current_page(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, str | None, CurrentConsent]]:
        """Current choices of people not erased as (person id, reference, consent), in (person id,
        purpose, channel) order after the key ``after`` (channel "" for a choice with no channel)."""
        ...

    async def erase_evidence(self, person_id: str) -> None:
        """Blank the personal evidence (IP, user agent, notes); hashes stay so the chain verifies."""
        ...

    async def chain(self, after_seq: int, limit: int) -> list[tuple[ConsentEvent, bool]]:
        """Events in sequence order after ``after_seq``, each with whether its person was erased."""
        ...

    async def head(self) -> tuple[int, str]: ...


class SuppressionList(Protocol):
    async def add(self, entry: Suppression) -> None: ...
    async def get(self, entry_id: str) -> Suppression | None: ...
    async def lift(self, entry_id: str, at: datetime, reason: str, by: str) -> bool:
        """Lift the entry on record; False when it was lifted already (nothing changed)."""
        ...

    async def for_fingerprints(
        self, fingerprints: Sequence[str], channel: Channel | None, include_lifted: bool
    ) -> dict[str, list[Suppression]]:
        """Entries for these fingerprints on ``channel`` or every channel; lifted ones only if asked."""
        ...

    async def page(
        self,
        channel: Channel | None,
        reason: SuppressionReason | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Suppression]: ...


class TpsScreenings(Protocol):
    """TPS/CTPS screening files and the numbers they found, by fingerprint (``domain/tps.py``)."""

    async def screened(self, register: Register, day: date) -> bool: ...
    async def add_screening(
        self, screening_id: str, register: Register, day: date, at: datetime, numbers: int, actor: str
    ) -> None: ...
    async def found_since(self, register: Register, fingerprints: Sequence[str], day: date) -> set[str]: ...
    async def record(self, register: Register, fingerprints: Sequence[str], day: date) -> None: ...
    async def status(self, fingerprints: Sequence[str]) -> tuple[frozenset[str], date | None]:
        """Which fingerprints are on a register by its latest screening, and how old the screening is."""
        ...


class Restrictions(Protocol):
    async def add(self, restriction: Restriction) -> None: ...
    async def get(self, restriction_id: str) -> Restriction | None: ...
    async def lift(self, restriction_id: str, at: datetime, reason: str, by: str) -> bool:
        """Lift the restriction on record; False when it was lifted already (nothing changed)."""
        ...

    async def for_people(self, person_ids: Sequence[str]) -> list[Restriction]: ...
    async def erase_reasons(self, person_id: str) -> None: ...


class AccessRequests(Protocol):
    async def add(self, request: AccessRequest) -> None: ...
    async def get(self, request_id: str) -> AccessRequest | None: ...
    async def listed(self, open_only: bool) -> list[AccessRequest]:
        """By due date, soonest first; ``open_only``: those not yet answered."""
        ...

    async def answered(self, request_id: str, at: datetime, by: str) -> bool:
        """False if it was already answered."""
        ...


class LegalHolds(Protocol):
    async def add(self, hold: LegalHold) -> None: ...
    async def standing(self, person_ids: Sequence[str]) -> list[LegalHold]:
        """The holds not released on any of these people."""
        ...

    async def release(self, hold_id: str, at: datetime, by: str) -> bool: ...


class StaffAccounts(Protocol):
    async def add(self, account: StaffAccount) -> None: ...
    async def by_username(self, username: str) -> StaffAccount | None: ...
    async def disable(self, username: str, at: datetime) -> bool: ...
    async def listed(self) -> list[StaffAccount]:
        """Every account, disabled ones too, by username."""
        ...

    async def set_role(self, username: str, role: Role) -> bool: ...
    async def set_password(self, username: str, password_hash: str) -> bool: ...
    async def audit(self, entry: AuditEntry) -> None:
        """Append to the audit trail (the table refuses updates and deletes)."""
        ...

    async def trail(self, limit: int, before: int | None = None) -> list[AuditEntry]:
        """Newest first; ``before`` (an entry's ``seq``) pages back."""
        ...


class ApiKeys(Protocol):
    async def add(self, key: ApiKey, digest: str) -> None: ...
    async def by_digest(self, digest: str) -> ApiKey | None: ...
    async def by_id(self, key_id: str) -> ApiKey | None: ...
    async def count(self) -> int: ...
    async def listed(self) -> list[ApiKey]:
        """Every key, revoked and expired ones too, oldest first."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> None:
        """Marks the key revoked at ``at`` unless it already is (the first revocation stands)."""
        ...

    async def used(self, last_used: Mapping[str, datetime]) -> None:
        """Moves each key's last use forward to the time given (never back)."""
        ...


class IdempotencyRecords(Protocol):
    async def claim(
        self, owner: str, key: str, request_digest: str, at: datetime
    ) -> tuple[str, int, str] | None:
        """Reserve ``key``; if it was taken already, return what it holds: (request digest, status, body)."""
        ...

    async def complete(self, owner: str, key: str, status: int, body: str) -> None: ...
    async def purge(self, before: datetime) -> int:
        """Forget keys claimed before ``before``: a retry that late is a new request."""
        ...

    async def forget_mentioning(self, text: str) -> None:
        """Drop stored answers that mention ``text`` (a person's id), so erasure leaves no copy behind."""
        ...


class Results(Protocol):
    """A use case's result as text and back, so an idempotent write can replay it (adapters/results.py)."""

    def dump(self, result: object) -> str: ...
    def load(self, text: str, kind: type[T]) -> T: ...


class ProviderEvents(Protocol):
    async def claim(self, provider: str, event_id: str, at: datetime) -> bool:
        """Remember a provider's event (or token); False when it was remembered already.

        A concurrent claim of the same event waits until the first transaction ends, then sees it.
        """
        ...


class Outbox(Protocol):
    """Committed changes waiting to be told, and how far each consumer has got."""

    async def pending(self) -> bool:
        """Whether some committed change has no feed position yet."""
        ...

    async def assign_positions(self, limit: int, at: datetime) -> int:
        """Give the next feed positions to committed changes that have none; how many were given.
        ``at`` (now, from the caller's clock) is kept as when positions were last given.

        Positions are given by one transaction at a time, after the changes committed, so a reader
        that has seen position N never later finds a change placed before it.
        """
        ...

    async def after(self, position: int, limit: int) -> list[PublishedChange]: ...
    async def head(self) -> int:
        """The last position given (0 when none)."""
        ...

    async def cursor(self, name: str) -> int: ...
    async def set_cursor(self, name: str, position: int, at: datetime) -> None: ...
    async def take_lease(self, name: str, holder: int, until: datetime, now: datetime) -> bool:
        """Hold ``name`` until ``until`` unless another holder's lease is still running."""
        ...

    async def oldest_waiting(self, after: int | None) -> datetime | None:
        """When the oldest change without a position, or past ``after``, happened (None: none)."""
        ...

    async def purge(self, before: datetime) -> int: ...


class Webhooks(Protocol):
    async def add(self, webhook: Webhook) -> None: ...
    async def get(self, webhook_id: str) -> Webhook | None: ...
    async def all(self) -> list[Webhook]: ...
    async def disable(self, webhook_id: str, at: datetime) -> bool: ...
    async def pin(self, webhook_id: str, through: int) -> None:
        """The batch about to be sent ends at ``through``: until it is taken, every try sends it."""
        ...

    async def delivered(self, webhook_id: str, position: int) -> None: ...
    async def failed(
        self, webhook_id: str, attempts: int, next_attempt_at: datetime, error: str, pending_through: int
    ) -> None: ...
    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None: ...
    async def dead_letters(self, webhook_id: str, include_replayed: bool) -> list[DeadLetter]: ...
    async def get_dead_letter(self, letter_id: str) -> DeadLetter | None: ...
    async def replayed(self, letter_id: str, at: datetime) -> None: ...


class ChangeStream(Protocol):
    """Where the relay publishes changes for consumers that read a stream (Redis Streams)."""

    async def publish(self, changes: Sequence[PublishedChange]) -> None: ...
    async def close(self) -> None: ...


class DeliveryFailed(Exception):
    """A webhook did not take a delivery; the message says why (status or network error)."""


@runtime_checkable  # handed to request handlers by injection, which checks the type it is given
class WebhookSender(Protocol):
    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST ``body``; raises ``DeliveryFailed`` unless the receiver answered 2xx in time."""
        ...

    async def close(self) -> None: ...


class Metrics(Protocol):
    """What the service counts; an adapter exports it (Prometheus)."""

    def checked(
        self, purpose: str, channel: str, allowed: bool, reason: str, degraded: bool, count: int = 1
    ) -> None: ...
    def committed(self, changes: Sequence[Change]) -> None:
        """Changes just committed: opt-outs among them are counted."""
        ...

    def outbox_lag(self, seconds: float) -> None: ...
    def spooled(self, waiting: int) -> None:
        """Opt-outs waiting in this host's spool for the database to return."""
        ...

    def unsubscribe_took(self, seconds: float, via: str) -> None:
        """A family's one-click unsubscribe: from its arrival to being in effect for every check,
        through the database or, while it is away, this host's spool."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository. Leaving the block without an error commits it.

    Repositories only store; the use case says what changed, with ``emit``.
    """

    def emit(self, change: Change) -> None:
        """Announce ``change`` (outbox, feed, webhooks, stream) if, and only if, this transaction
        commits. Only a writing transaction announces anything."""
        ...

    @property
    def catalogue(self) -> CatalogueRepository: ...
    @property
    def people(self) -> PeopleRepository: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def suppressions(self) -> SuppressionList: ...
    @property
    def restrictions(self) -> Restrictions: ...
    @property
    def tps(self) -> TpsScreenings: ...
    @property
    def access_requests(self) -> AccessRequests: ...
    @property
    def legal_holds(self) -> LegalHolds: ...
    @property
    def staff(self) -> StaffAccounts: ...
    @property
    def keys(self) -> ApiKeys: ...
    @property
    def idempotency(self) -> IdempotencyRecords: ...
    @property
    def provider_events(self) -> ProviderEvents: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def webhooks(self) -> Webhooks: ...


class Store(Protocol):
    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]: ...
    def writing(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction that holds the write lock from its start and commits durably on exit."""
        ...

    async def ping(self) -> None: ...
    async def durability(self) -> list[str]:
        """Database settings that would let a crash lose a commit (empty when all is well)."""
        ...

    async def dispose(self) -> None: ...


class OptOutSpool(Protocol):
    """Opt-outs confirmed to families while the database was away, kept on this host's disk."""

    def append(self, entry: SpooledOptOut) -> None:
        """Write ``entry`` and sync it; returns only once it would survive a crash of the host."""
        ...

    def pending(self) -> frozenset[SpooledOptOut]:
        """Every entry not yet applied, as every worker on this host sees it. Cheap when unchanged.

        Raises ``StoreUnavailable`` when the spool cannot be read: an entry may be waiting unseen."""
        ...

    def remove(self, ids: Collection[str]) -> None:
        """Drop entries once applied, durably; entries appended meanwhile stay."""
        ...

    def stand_in(self, away: StoreUnavailable) -> None:
        """The database could not take an opt-out (``away``): returns if this spool will hold it
        instead, raises ``away`` if there is no spool, so the family is answered as for any write."""
        ...


#: (fingerprint, person id, purpose, channel)
AnswerKey = tuple[str, str, str, str]


class Answers(Protocol):
    """What a check asks of the answers kept in memory: ``adapters.check_cache.AnswerCache``, or
    ``absent.NoAnswerCache``."""

    async def token(self) -> str | None: ...
    def get(self, key: AnswerKey, token: str | None) -> Answer | None: ...
    def put(self, key: AnswerKey, token: str | None, answer: Answer) -> None: ...
    def database_answered(self) -> None: ...
    def held(self) -> int: ...
    async def keep_trust(self, store: Store, every: float = 0.1) -> None: ...
