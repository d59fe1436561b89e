"""One shape for a write on people, choices, suppressions and restrictions: a typed command in, a
domain result out.

A use case is written as a step that runs inside the unit of work it is handed, so that
``idempotency.once`` can run it in the same transaction as its claim on the caller's key, and a
use case that is part of a larger write (an import row, an unsubscribe) can run inside that write.
Called as ``use_case(ctx, command)`` it opens and commits its own unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from consent_service.domain.ports import UnitOfWork
from consent_service.services.context import Context

C = TypeVar("C")
R = TypeVar("R")

Step = Callable[[UnitOfWork, Context, C], Awaitable[R]]


@dataclass(frozen=True, slots=True)
class UseCase(Generic[C, R]):
    step: Step[C, R]
    #: What the step returns, so that a result stored with an idempotency key can be rebuilt.
    result: type[R]

    async def __call__(self, ctx: Context, command: C) -> R:
        async with ctx.store.writing() as uow:
            return await self.step(uow, ctx, command)

    async def within(self, uow: UnitOfWork, ctx: Context, command: C) -> R:
        """Run as part of a write the caller has opened and will commit."""
        return await self.step(uow, ctx, command)


def use_case(result: type[R]) -> Callable[[Step[C, R]], UseCase[C, R]]:
    def wrap(step: Step[C, R]) -> UseCase[C, R]:
        return UseCase(step, result)

    return wrap
