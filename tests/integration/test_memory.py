"""What a worker keeps in memory stays the size of its use: expired entries leave the local stores."""

from __future__ import annotations

import asyncio
import contextlib

from litestar import Litestar
from litestar.stores.memory import MemoryStore

from consent_service.api.app import create_app, local_stores, shutdown, sweep_expired
from consent_service.api.context import context_of
from consent_service.config import Settings


async def test_expired_rate_limit_counters_leave_memory(settings: Settings) -> None:
    """A counter for every address that ever opened a public page must not stay for the worker's life."""
    app = create_app(settings)
    try:
        await _expired_counters_leave(app)
    finally:
        await shutdown(app, context_of(app))


async def _expired_counters_leave(app: Litestar) -> None:
    memory = [store for store in local_stores(app) if isinstance(store, MemoryStore)]
    # Without Redis the rate limits live in memory; with Redis the memory store is where they go while
    # Redis is away. Either way there is one, and the sweep covers it.
    assert len(memory) == 1
    store = memory[0]
    for client in range(50):
        await store.set(f"RateLimitMiddleware::198.51.100.{client}", b"1", expires_in=1)
    await store.set("RateLimitMiddleware::still-counting", b"1", expires_in=60)
    await asyncio.sleep(1.1)
    sweeping = asyncio.create_task(sweep_expired([store], every=0.01))
    try:
        await asyncio.sleep(0.1)
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
    assert len(store._store) == 1
    assert await store.get("RateLimitMiddleware::still-counting") == b"1"
