"""Stand-ins for the collaborators a deployment may go without, so no use case asks whether one is there.

Each answers as the service did when the collaborator was simply missing: no metrics count nothing;
no spool holds nothing and refuses to hold an opt-out, so a family whose unsubscribe the database
could not take is told to try again, as for any other write.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from consent_service.domain.changes import Change
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.spool import SpooledOptOut


class NoMetrics:
    def checked(
        self, purpose: str, channel: str, allowed: bool, reason: str, degraded: bool, count: int = 1
    ) -> None:
        pass

    def committed(self, changes: Sequence[Change]) -> None:
        pass

    def outbox_lag(self, seconds: float) -> None:
        pass

    def spooled(self, waiting: int) -> None:
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
