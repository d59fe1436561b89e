"""Idempotent writes (DESIGN §4.5): a repeat with the same key and body gets the first answer.

The key is claimed in the same transaction as the use case, and what is kept under it is the use
case's domain result, serialised (``Context.results``): the caller presents a replayed result
exactly as it presented the first, after commit, so nothing of the web's answer lives here.

Records written before results were kept hold the answer the API gave, as it gave it. Those have
no ``RESULT`` marker (an answer is a JSON object, so it starts with ``{``) and are replayed as
``Answered``: the caller sends that text back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from consent_service.domain.errors import ConcurrentChange, IdempotencyConflict
from consent_service.services.context import Context
from consent_service.services.usecases import UseCase

C = TypeVar("C")
R = TypeVar("R")

#: Two forms registering the same person at once: the loser runs again and finds the winner's rows.
ATTEMPTS = 3
#: What a record holding a serialised result starts with.
RESULT = "result:"
#: The status kept with a result: the one a new record's answer was given with.
CREATED = 201


@dataclass(frozen=True, slots=True)
class Idempotency:
    """Who is asking (``owner``), under which key (``None``: not idempotent), for what (a digest)."""

    owner: str
    key: str | None
    request_digest: str


@dataclass(frozen=True, slots=True)
class Answered:
    """A replay of a record written before results were kept: the answer then given, as given."""

    status: int
    body: str


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    result: R | Answered
    #: True when the key had been used before and this is its first result again.
    replayed: bool = False


async def once(ctx: Context, claim: Idempotency, use_case: UseCase[C, R], command: C) -> Outcome[R]:
    """Run ``use_case`` in one transaction with the key's claim, or give back what the key holds.

    The claim is the transaction's first write, so a concurrent repeat waits for the first to commit
    and then sees its result; a failed first attempt rolls the claim back with everything else. A
    transaction that lost a race on a unique row is run again, a bounded number of times.
    """
    attempt = 1
    while True:
        try:
            return await _once(ctx, claim, use_case, command)
        except ConcurrentChange:
            if attempt >= ATTEMPTS:
                raise
            attempt += 1


async def _once(ctx: Context, claim: Idempotency, use_case: UseCase[C, R], command: C) -> Outcome[R]:
    owner, key = claim.owner, claim.key
    async with ctx.store.writing() as uow:
        if key is not None:
            prior = await uow.idempotency.claim(owner, key, claim.request_digest, ctx.clock.now())
            if prior is not None:
                digest, status, body = prior
                if digest != claim.request_digest:
                    raise IdempotencyConflict("this Idempotency-Key was used with another request body")
                if body.startswith(RESULT):
                    return Outcome(ctx.results.load(body.removeprefix(RESULT), use_case.result), True)
                return Outcome(Answered(status, body), True)
        result = await use_case.within(uow, ctx, command)
        if key is not None:
            await uow.idempotency.complete(owner, key, CREATED, RESULT + ctx.results.dump(result))
    return Outcome(result)
