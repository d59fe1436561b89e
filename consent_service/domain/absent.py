"""Stand-ins for the collaborators a deployment may go without, so no use case asks whether one is there.

Each answers as the service did when the collaborator was simply missing: no metrics count nothing;
no spool holds nothing and refuses to hold an opt-out, so a family whose unsubscribe the database
could not take is told to try again, as for any other write; no check cache keeps no answer, so
every check is worked out from the database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager, nullcontext

from consent_service.domain.changes import Change
from consent_service.domain.decision import Answer
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.invalidation import Seen
from consent_service.domain.ports import AnswerKey, Store
from consent_service.domain.spool import SpooledOptOut


class NoMetrics:
    def checked(
        self, purpose: str, channel: str, allowed: bool, reason: str, degraded: bool, count: int = 1
    ) -> None:
        pass

    def committed(self, changes: Sequence[Change]) -> None:
        pass

    def answered_from(self, source: str) -> None:
        pass

    def outbox_lag(self, seconds: float) -> None:
        pass

    def spooled(self, waiting: int) -> None:
        pass

    def unsubscribe_took(self, seconds: float, via: str) -> None:
        pass


class NoSpool:
    """Turned off (``CONSENT_OPTOUT_SPOOL=false``): nothing waits on this host's disk."""

    def append(self, entry: SpooledOptOut) -> None:
        raise StoreUnavailable("this host keeps no opt-out spool")

    def pending(self) -> frozenset[SpooledOptOut]:
        return frozenset()

    def remove(self, ids: Collection[str]) -> None:
        pass

    def stand_in(self, away: StoreUnavailable) -> None:
        raise away


class NoAnswerCache:
    """No change signal, so no answer may be kept: every check is worked out from the database.

    It never holds an answer, so it never needs the database's word."""

    async def token(self) -> Seen | None:
        return None

    def get(self, key: AnswerKey, token: Seen | None) -> Answer | None:
        return None

    def put(self, key: AnswerKey, token: Seen | None, answer: Answer, depends_on: frozenset[str]) -> None:
        pass

    async def after_the_asker(self, key: AnswerKey) -> bool:
        return False

    def asking(self, key: AnswerKey) -> AbstractContextManager[None]:
        return nullcontext()

    def database_answered(self) -> None:
        pass

    def held(self) -> int:
        return 0

    async def keep_trust(self, store: Store, every: float = 0.1) -> None:
        pass


class NoSignal:
    """No signal shared between workers: one token for ever, so what is kept in memory under it is
    bounded by its own expiry alone."""

    lease = 0.0

    async def current(self) -> str | None:
        return "unshared"

    async def bump(self) -> bool:
        return False

    async def close(self) -> None:
        return None
