"""Idempotent writes (DESIGN §4.5): a repeat with the same key and body returns the first answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from consent_service.domain.errors import ConcurrentChange, IdempotencyConflict
from consent_service.domain.ports import UnitOfWork
from consent_service.services.context import Context

Work = Callable[[UnitOfWork], Awaitable[tuple[int, str]]]

#: Two forms registering the same person at once: the loser runs again and finds the winner's rows.
ATTEMPTS = 3


async def once(ctx: Context, owner: str, key: str | None, request_digest: str, work: Work) -> tuple[int, str]:
    """Run ``work`` (which returns status and encoded body) in one transaction with the key's claim.

    The claim is the transaction's first write, so a concurrent repeat waits for the first to commit
    and then sees its answer; a failed first attempt rolls the claim back with everything else. A
    transaction that lost a race on a unique row is run again, a bounded number of times.
    """
    attempt = 1
    while True:
        try:
            return await _once(ctx, owner, key, request_digest, work)
        except ConcurrentChange:
            if attempt >= ATTEMPTS:
                raise
            attempt += 1


async def _once(
    ctx: Context, owner: str, key: str | None, request_digest: str, work: Work
) -> tuple[int, str]:
    async with ctx.store.writing() as uow:
        if key is not None:
            prior = await uow.idempotency.claim(owner, key, request_digest, ctx.clock.now())
            if prior is not None:
                digest, status, body = prior
                if digest != request_digest:
                    raise IdempotencyConflict("this Idempotency-Key was used with another request body")
                return status, body
        status, body = await work(uow)
        if key is not None:
            await uow.idempotency.complete(owner, key, status, body)
    return status, body
