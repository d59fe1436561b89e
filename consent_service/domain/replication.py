"""When a PostgreSQL streaming replica may answer a check (``CONSENT_REPLICA_URL``).

A replica replays the primary's write-ahead log some time after the primary commits. An answer read
from it is only as new as what it has replayed, and a marketing *allow* must never outlive an
acknowledged opt-out (DESIGN §4.1). So every write, before it is acknowledged, raises a shared
*watermark* to the primary's WAL position after its commit (``db/replica.py: WatermarkingStore``), and
a check reads the replica only if the replica has replayed at least that far (``replica_may_answer``);
otherwise the primary answers, exactly as without a replica.

Positions are byte offsets in the WAL (PostgreSQL's ``pg_lsn`` as an integer). Anything unknown (the
watermark unreadable or being rebuilt, the replica not in recovery or not answering) is a "no".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from consent_service.domain.ports import UnitOfWork

#: Where the primary's WAL has got to now: read after a commit, it is at or past that commit.
Position = Callable[[], Awaitable[int]]


def replica_may_answer(replayed: int | None, watermark: int | None) -> bool:
    """The replica has replayed every write acknowledged before the watermark was read.

    Every acknowledged write raised the watermark to a position at or past its own commit record
    first, and the replica makes a commit visible once it has replayed it, so a replica whose replay
    position is at or past the watermark shows every one of them. ``None`` (unknown) is never enough.
    """
    return replayed is not None and watermark is not None and replayed >= watermark


class Watermark(Protocol):
    """The highest WAL position any acknowledged write needs a replica to have replayed, shared by
    every worker (Redis: ``adapters/watermark.py``)."""

    async def current(self) -> int | None:
        """The watermark now; None when it cannot be read or is not known (then the primary answers)."""
        ...

    async def raise_to(self, position: int, primary: Position) -> bool:
        """Make the watermark at least ``position``; False when that could not be made sure of.

        ``primary`` gives the primary's position now, for when the watermark has to be rebuilt (lost
        with a flushed or restarted Redis): a position read then covers every earlier commit."""
        ...

    async def close(self) -> None: ...


class Reads(Protocol):
    """Where checks read: the primary store itself, or the replica when it has caught up."""

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]: ...
