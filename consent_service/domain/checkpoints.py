"""Each person's chain, and the checkpoints that pin them (DESIGN §4.3).

Each person's consent events form a hash chain of their own: an event's ``prev_hash`` is the hash of
that person's event before it (the genesis hash for their first), and the person's *head* names their
last. Writes for different people therefore never wait for each other. (Events recorded before
per-person chains joined one chain for everyone; ``ledger.first_broken_link`` still walks that one.)

A chain alone cannot show that its last events were removed along with its head, or that a whole
person's events were. So, every so often, a *checkpoint* records the heads that moved since the one
before, and is itself chained to the one before by hash. A head once checkpointed pins every event
up to it: ``audit verify`` finds each checkpointed head among the events, or names what is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from consent_service.domain.ledger import GENESIS_HASH, canonical


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where one person's chain ends: the sequence number and hash of their last event."""

    person_id: str
    seq: int
    hash: str


#: A person's chain before their first event.
EMPTY_HEAD_SEQ, EMPTY_HEAD_HASH = 0, GENESIS_HASH


@dataclass(frozen=True, slots=True)
class Checkpoint:
    id: int
    made_at: datetime
    heads: tuple[ChainHead, ...]
    prev_hash: str
    hash: str = ""


def checkpoint_digest(checkpoint: Checkpoint, prev_hash: str) -> str:
    """SHA-256 over the previous checkpoint's hash and this one's number, time and heads (in person order)."""
    body = {
        "id": checkpoint.id,
        "made_at": checkpoint.made_at.isoformat(),
        "heads": [[h.person_id, h.seq, h.hash] for h in sorted(checkpoint.heads, key=lambda h: h.person_id)],
    }
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def make_checkpoint(
    number: int, made_at: datetime, heads: Sequence[ChainHead], previous: Checkpoint | None
) -> Checkpoint:
    """The checkpoint after ``previous`` (None for the first) recording ``heads``."""
    prev_hash = previous.hash if previous is not None else GENESIS_HASH
    draft = Checkpoint(number, made_at, tuple(sorted(heads, key=lambda h: h.person_id)), prev_hash)
    return Checkpoint(draft.id, draft.made_at, draft.heads, prev_hash, checkpoint_digest(draft, prev_hash))


def checkpoint_holds(checkpoint: Checkpoint, number: int, prev_hash: str) -> bool:
    """Whether ``checkpoint`` is the ``number``th, follows ``prev_hash`` and its hash matches its heads."""
    return (
        checkpoint.id == number
        and checkpoint.prev_hash == prev_hash
        and checkpoint.hash == checkpoint_digest(checkpoint, prev_hash)
    )
