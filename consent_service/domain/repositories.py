"""What each kind of record's storage must do, as protocols ``db/repositories/`` implements.

A use case reaches them only through one transaction (``ports.py: UnitOfWork``), so what it reads and
writes commits or fails together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from consent_service.domain.access import AccessRequest, LegalHold
from consent_service.domain.channels import Channel
from consent_service.domain.checkpoints import ChainHead, Checkpoint
from consent_service.domain.keys import ApiKey
from consent_service.domain.ledger import ConsentEvent, CurrentConsent
from consent_service.domain.notices import NoticeKind, NoticeVersion
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.purposes import Purpose
from consent_service.domain.restrictions import Restriction
from consent_service.domain.staff import AuditEntry, Role, StaffAccount
from consent_service.domain.suppressions import LiftReason, Suppression, SuppressionReason
from consent_service.domain.tps import Register


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
    async def hold_chains(self, person_ids: Sequence[str]) -> dict[str, ChainHead]:
        """These people's chain heads, each locked until the transaction ends: writes for the same
        person take turns, and only they. Taken in person order, so two holders never deadlock."""
        ...

    async def hold_address(self, fingerprint: str) -> None:
        """Make writes about this address (held for nobody, or for people yet to be found) take turns
        until the transaction ends, as ``hold_chains`` does for people."""
        ...

    async def next_seqs(self, count: int) -> list[int]:
        """``count`` fresh sequence numbers, ascending; writers never wait for each other for them."""
        ...

    async def move_head(self, head: ChainHead) -> None:
        """The person's chain now ends at ``head``: held by ``hold_chains`` in this transaction, or the
        person was made in it (their chain was empty, and nobody else can reach it before the commit)."""
        ...

    async def append(self, events: Sequence[ConsentEvent]) -> None: ...
    async def events(self, person_ids: Sequence[str], purpose: str | None = None) -> list[ConsentEvent]:
        """Events of these people (and purpose), in recording order."""
        ...

    async def count(self) -> int:
        """How many events the ledger holds."""
        ...

    async def current(
        self, person_ids: Sequence[str], purpose: str | None = None, channel: Channel | None = None
    ) -> dict[str, list[CurrentConsent]]: ...
    async def save_current(self, person_id: str, consents: Sequence[CurrentConsent]) -> None:
        """Make these the person's current choices, each replacing the one for its purpose and channel."""
        ...

    async def current_page(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, str | None, CurrentConsent]]:
        """Current choices of people not erased as (person id, reference, consent), in (person id,
        purpose, channel) order after the key ``after`` (channel "" for a choice with no channel)."""
        ...

    async def erase_evidence(self, person_id: str) -> None:
        """Blank the personal evidence (IP, user agent, notes); hashes stay so the chain verifies."""
        ...

    async def single_chain_end(self) -> tuple[int, str]:
        """Where the one chain every event joined before per-person chains ends: its last sequence
        number and hash. Events with a larger number are chained per person."""
        ...

    async def single_chain(self, after_seq: int, limit: int) -> list[tuple[ConsentEvent, bool]]:
        """That chain's events in sequence order after ``after_seq``, each with whether its person was
        erased."""
        ...

    async def person_chains(
        self, after: tuple[str, int] | None, limit: int
    ) -> list[tuple[ConsentEvent, bool, ChainHead | None]]:
        """Events chained per person, in (person, sequence) order after the key ``after``, each with
        whether its person was erased and the person's head on record (None if there is none)."""
        ...

    async def unmatched_head(self) -> ChainHead | None:
        """A head on record that names no event the person has, if any (their last events removed)."""
        ...


class Checkpoints(Protocol):
    async def take_turn(self) -> None:
        """Make checkpoints taken at once take turns, until the transaction ends."""
        ...

    async def any_moved(self) -> bool:
        """Whether any head moved since it was last checkpointed."""
        ...

    async def moved_heads(self, limit: int) -> list[ChainHead]:
        """Up to ``limit`` heads that moved since they were last checkpointed, none of them being
        written now (a head a writer holds waits for the next checkpoint), each locked from writers."""
        ...

    async def last(self) -> Checkpoint | None: ...
    async def add(self, checkpoint: Checkpoint) -> None:
        """Store the checkpoint and mark its heads checkpointed."""
        ...

    async def page(self, after_id: int, limit: int) -> list[Checkpoint]:
        """Checkpoints numbered after ``after_id``, in order, each with its heads."""
        ...

    async def unmatched(self) -> tuple[int, ChainHead] | None:
        """A checkpointed head that names no event the person has (and its checkpoint), if any."""
        ...


class SuppressionList(Protocol):
    async def add(self, entry: Suppression) -> None: ...
    async def get(self, entry_id: str) -> Suppression | None: ...
    async def lift(self, entry_id: str, at: datetime, reason: LiftReason, by: str) -> bool:
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


@dataclass(frozen=True, slots=True)
class AddressFacts:
    """What the store holds about some addresses for one purpose and channel, as a check reads it now."""

    #: For each fingerprint, the people holding it as (person id, erased).
    linked: Mapping[str, list[tuple[str, bool]]]
    #: For each fingerprint, its entries in force on the channel or every channel, oldest first.
    suppressions: Mapping[str, list[Suppression]]
    #: Each of those people's current choice for the purpose and channel, if they made one.
    consents: Mapping[str, CurrentConsent]
    #: Each of those people's restrictions, lifted or not, oldest first.
    restrictions: Mapping[str, list[Restriction]]


class CheckFacts(Protocol):
    async def about(self, fingerprints: Sequence[str], purpose: str, channel: Channel) -> AddressFacts:
        """What a check of these addresses for ``purpose`` on ``channel`` decides on, read together.

        A check's other reads are rarer and stay apart: a person's own grants (only at an erasure's
        tombstone) and the TPS screening (only for a marketing call)."""
        ...


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


class ProviderEvents(Protocol):
    async def claim(self, provider: str, event_id: str, at: datetime) -> bool:
        """Remember a provider's event (or token); False when it was remembered already.

        A concurrent claim of the same event waits until the first transaction ends, then sees it.
        """
        ...
