"""What the use cases need from the outside world, as protocols the other layers implement, so no rule
depends on how or where anything is kept.

The store, its one transaction and what a use case's context holds beside it; the repositories a
transaction gathers are in ``repositories.py``, how committed changes reach others in ``change_ports.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from consent_service.domain.change_ports import Outbox, Webhooks
from consent_service.domain.changes import Change
from consent_service.domain.decision import Answer
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.invalidation import FeedView, Seen
from consent_service.domain.repositories import (
    AccessRequests,
    ApiKeys,
    CatalogueRepository,
    CheckFacts,
    Checkpoints,
    IdempotencyRecords,
    Ledger,
    LegalHolds,
    PeopleRepository,
    ProviderEvents,
    Restrictions,
    StaffAccounts,
    SuppressionList,
    TpsScreenings,
)
from consent_service.domain.spool import SpooledOptOut

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


class ChangeFeed(Protocol):
    """What committed writes touched, for the answers kept in memory (``domain/invalidation.py``).

    A writer publishes the topics its commit touched (None: everything) before it acknowledges; a
    worker reads what was published after the position it has followed to, and drops the answers that
    depend on it. ``lease`` is as a ``ChangeSignal``'s: a reader may go on trusting a read for that
    long, and a writer waits that long after publishing before it acknowledges.
    """

    lease: float

    async def read(self, after: int | None) -> FeedView | None:
        """What was published after ``after`` (None: only the generation and position now), or None
        when the feed cannot be read (then nothing kept may be trusted)."""
        ...

    async def publish(self, topics: frozenset[str] | None) -> bool:
        """Announce a committed write's topics; False when that could not be done."""
        ...

    async def close(self) -> None: ...


class Results(Protocol):
    """A use case's result as text and back, so an idempotent write can replay it (adapters/results.py)."""

    def dump(self, result: object) -> str: ...
    def load(self, text: str, kind: type[T]) -> T: ...


class Metrics(Protocol):
    """What the service counts; an adapter exports it (Prometheus)."""

    def checked(
        self, purpose: str, channel: str, allowed: bool, reason: str, degraded: bool, count: int = 1
    ) -> None: ...
    def committed(self, changes: Sequence[Change]) -> None:
        """Changes just committed: opt-outs among them are counted."""
        ...

    def answered_from(self, source: str) -> None:
        """A single check's answer came from this worker's ``memory`` or the ``database``."""
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
    def changes(self) -> Sequence[Change]:
        """What ``emit`` was given, in order."""
        ...

    @property
    def catalogue(self) -> CatalogueRepository: ...
    @property
    def people(self) -> PeopleRepository: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def checkpoints(self) -> Checkpoints: ...
    @property
    def suppressions(self) -> SuppressionList: ...
    @property
    def restrictions(self) -> Restrictions: ...
    @property
    def check_facts(self) -> CheckFacts: ...
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

    async def token(self) -> Seen | None: ...
    def get(self, key: AnswerKey, token: Seen | None) -> Answer | None: ...
    def put(self, key: AnswerKey, token: Seen | None, answer: Answer, depends_on: frozenset[str]) -> None: ...
    async def after_the_asker(self, key: AnswerKey) -> bool: ...
    def asking(self, key: AnswerKey) -> AbstractContextManager[None]: ...
    def database_answered(self) -> None: ...
    def held(self) -> int: ...
    async def keep_trust(self, store: Store, every: float = 0.1) -> None: ...
