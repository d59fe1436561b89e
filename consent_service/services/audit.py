"""Verifying the ledger's hash chains and their checkpoints: the first thing that does not verify, or
none (DESIGN §4.3).

Three walks, each reading a chunk at a time so memory stays flat however long the ledger:

1. the single chain every event joined before chains were kept per person, up to where it ends;
2. each person's chain, event by event, to the head on record for them (and any head on record that
   names no event of theirs: their last events were removed);
3. the checkpoints, each linked to the one before, and every head a checkpoint recorded found among
   the events (a whole chain, or its end, removed together with its head).
"""

from __future__ import annotations

from dataclasses import dataclass

from consent_service.domain.checkpoints import ChainHead, Checkpoint, checkpoint_holds, make_checkpoint
from consent_service.domain.ledger import GENESIS_HASH, ConsentEvent, link_holds
from consent_service.domain.ports import UnitOfWork
from consent_service.services.bulk import QUIET, Progress
from consent_service.services.context import Context

CHUNK = 1000
#: The most heads one checkpoint records; more moved heads wait for the next.
CHECKPOINT_HEADS = 5000


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    broken: ConsentEvent | None = None
    #: A chain ends before the head on record for it: events were removed from its end.
    truncated: bool = False
    #: The person whose chain was cut short, where it was a person's chain.
    truncated_person: str | None = None
    checkpoints: int = 0
    #: The first checkpoint that does not verify, or whose recorded head names no event.
    broken_checkpoint: int | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None and not self.truncated and self.broken_checkpoint is None


async def verify(ctx: Context, progress: Progress = QUIET) -> ChainReport:
    async with ctx.store.reading() as uow:
        progress.start("verifying the hash chains", await uow.ledger.count())
        single = await _single_chain(uow, progress)
        if not single.intact:
            return single
        report = await _person_chains(uow, progress, single.events)
        if not report.intact:
            return report
        return await _checkpoints(uow, report)


async def _single_chain(uow: UnitOfWork, progress: Progress) -> ChainReport:
    end_seq, end_hash = await uow.ledger.single_chain_end()
    prev_hash, last_seq, count = GENESIS_HASH, 0, 0
    while True:
        chunk = await uow.ledger.single_chain(last_seq, CHUNK)
        progress.advance(len(chunk))
        for event, erased in chunk:
            count += 1
            if event.seq != last_seq + 1 or not link_holds(event, prev_hash, erased):
                return ChainReport(count, event)
            prev_hash, last_seq = event.hash, event.seq
        if len(chunk) < CHUNK:
            break
    return ChainReport(count, truncated=(end_seq, end_hash) != (last_seq, prev_hash))


async def _person_chains(uow: UnitOfWork, progress: Progress, count: int) -> ChainReport:
    after: tuple[str, int] | None = None
    person, prev_hash, last_seq, head = "", GENESIS_HASH, 0, None
    while True:
        chunk = await uow.ledger.person_chains(after, CHUNK)
        progress.advance(len(chunk))
        for event, erased, held in chunk:
            if event.person_id != person:
                if person and not _ends_at(head, person, last_seq, prev_hash):
                    return ChainReport(count, truncated=True, truncated_person=person)
                person, prev_hash, head = event.person_id, GENESIS_HASH, held
            count += 1
            if not link_holds(event, prev_hash, erased):
                return ChainReport(count, event)
            prev_hash, last_seq = event.hash, event.seq
            after = (event.person_id, event.seq)
        if len(chunk) < CHUNK:
            break
    if person and not _ends_at(head, person, last_seq, prev_hash):
        return ChainReport(count, truncated=True, truncated_person=person)
    unmatched = await uow.ledger.unmatched_head()
    if unmatched is not None:
        return ChainReport(count, truncated=True, truncated_person=unmatched.person_id)
    return ChainReport(count)


def _ends_at(head: ChainHead | None, person: str, seq: int, hash_: str) -> bool:
    return head is not None and (head.person_id, head.seq, head.hash) == (person, seq, hash_)


async def _checkpoints(uow: UnitOfWork, report: ChainReport) -> ChainReport:
    prev_hash, number = GENESIS_HASH, 0
    while True:
        page = await uow.checkpoints.page(number, CHUNK)
        for checkpoint in page:
            number += 1
            if not checkpoint_holds(checkpoint, number, prev_hash):
                return ChainReport(report.events, checkpoints=number - 1, broken_checkpoint=checkpoint.id)
            prev_hash = checkpoint.hash
        if len(page) < CHUNK:
            break
    unmatched = await uow.checkpoints.unmatched()
    if unmatched is not None:
        return ChainReport(report.events, checkpoints=number, broken_checkpoint=unmatched[0])
    return ChainReport(report.events, checkpoints=number)


async def checkpoint(ctx: Context) -> Checkpoint | None:
    """Record the heads that moved since the last checkpoint, chained to it; None when none moved.

    Heads being written at this moment are left for the next one, so a checkpoint never waits for a
    write nor makes one wait longer than its own short transaction. Written as bookkeeping, beside
    the change feed: a checkpoint changes no answer, and a write through the store that announces
    nothing makes every worker forget every answer it holds. Looked for first in a read all the
    same, so a quiet minute opens no write at all."""
    async with ctx.bookkeeping.reading() as uow:
        if not await uow.checkpoints.any_moved():
            return None
    async with ctx.bookkeeping.writing() as uow:
        await uow.checkpoints.take_turn()
        moved = await uow.checkpoints.moved_heads(CHECKPOINT_HEADS)
        if not moved:
            return None
        previous = await uow.checkpoints.last()
        made = make_checkpoint(previous.id + 1 if previous else 1, ctx.clock.now(), moved, previous)
        await uow.checkpoints.add(made)
    return made
