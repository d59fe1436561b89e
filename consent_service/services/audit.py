"""Verifying the ledger's hash chain: the first event that does not verify, or none (DESIGN §4.3)."""

from __future__ import annotations

from dataclasses import dataclass

from consent_service.domain.ledger import GENESIS_HASH, ConsentEvent, link_holds
from consent_service.services.bulk import QUIET, Progress
from consent_service.services.context import Context

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    broken: ConsentEvent | None = None
    #: The head row names a later event than the chain holds: events were removed from the end.
    truncated: bool = False

    @property
    def intact(self) -> bool:
        return self.broken is None and not self.truncated


async def verify(ctx: Context, progress: Progress = QUIET) -> ChainReport:
    prev_hash, last_seq, count = GENESIS_HASH, 0, 0
    async with ctx.store.reading() as uow:
        head_seq, head_hash = await uow.ledger.head()
        progress.start("verifying the hash chain", head_seq)
        while True:
            chunk = await uow.ledger.chain(last_seq, CHUNK)
            progress.advance(len(chunk))
            for event, erased in chunk:
                count += 1
                if event.seq != last_seq + 1 or not link_holds(event, prev_hash, erased):
                    return ChainReport(count, event)
                prev_hash, last_seq = event.hash, event.seq
            if len(chunk) < CHUNK:
                break
    return ChainReport(count, truncated=(head_seq, head_hash) != (last_seq, prev_hash))
