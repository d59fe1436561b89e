"""Baseline ``plain_check``: a check as a straightforward service would write it, with no framework of ours.

``POST /check`` decodes ``{"to": address}`` (msgspec, through Litestar), lower-cases and strips the
address, HMAC-SHA-256 fingerprints it and answers ``{"allowed": ...}`` from one asyncpg lookup (a pool;
asyncpg prepares and caches the statement per connection). ``POST /check-redis`` does the same with one
Redis ``GET`` (redis.asyncio, hiredis, a blocking pool of 10 as shared/PERFORMANCE.md advises).

On start it seeds what it looks up from ``BENCH_ADDRESSES`` (one ``address<TAB>0|1`` per line) into a
table of the bench's throwaway database ``BENCH_PG_DSN`` and into Redis keys under a random prefix at
``BENCH_REDIS_URL``; it deletes the keys on the way out (they also expire in an hour).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import msgspec
import redis.asyncio as redis
from litestar import Litestar, post

KEY = secrets.token_bytes(32)
PREFIX = f"bench_plain:{secrets.token_hex(4)}:"
SELECT = "SELECT allowed FROM plain_check_contacts WHERE fingerprint = $1"


class CheckIn(msgspec.Struct):
    to: str
    purpose: str = "marketing"
    channel: str = "email"


class CheckOut(msgspec.Struct):
    allowed: bool


def fingerprint(address: str) -> bytes:
    return hmac.new(KEY, address.strip().lower().encode(), hashlib.sha256).digest()


class Stores:
    pool: asyncpg.Pool
    redis: redis.Redis


stores = Stores()


def _seed_rows() -> list[tuple[bytes, bool]]:
    rows = []
    for line in Path(os.environ["BENCH_ADDRESSES"]).read_text().splitlines():
        address, allowed = line.split("\t")
        rows.append((fingerprint(address), allowed == "1"))
    return rows


async def _seed(rows: list[tuple[bytes, bool]]) -> None:
    async with stores.pool.acquire() as connection:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS plain_check_contacts (fingerprint bytea PRIMARY KEY, allowed boolean)"
        )
        await connection.execute("TRUNCATE plain_check_contacts")
        await connection.copy_records_to_table("plain_check_contacts", records=rows)
        await connection.execute("ANALYZE plain_check_contacts")
    async with stores.redis.pipeline(transaction=False) as pipe:
        for fp, allowed in rows:
            pipe.set(PREFIX + fp.hex(), b"1" if allowed else b"0", ex=3600)
        await pipe.execute()


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    stores.pool = await asyncpg.create_pool(os.environ["BENCH_PG_DSN"], min_size=10, max_size=10)
    pool = redis.BlockingConnectionPool.from_url(os.environ["BENCH_REDIS_URL"], max_connections=10)
    stores.redis = redis.Redis(connection_pool=pool)
    try:
        await _seed(_seed_rows())
        yield
    finally:
        keys = [key async for key in stores.redis.scan_iter(match=PREFIX + "*", count=1000)]
        if keys:
            await stores.redis.delete(*keys)
        await stores.redis.aclose()
        await stores.pool.close()


@post("/check", status_code=200)
async def check(data: CheckIn) -> CheckOut:
    allowed = await stores.pool.fetchval(SELECT, fingerprint(data.to))
    return CheckOut(allowed=bool(allowed))


@post("/check-redis", status_code=200)
async def check_redis(data: CheckIn) -> CheckOut:
    answer = await stores.redis.get(PREFIX + fingerprint(data.to).hex())
    return CheckOut(allowed=answer == b"1")


app = Litestar(route_handlers=[check, check_redis], lifespan=[lifespan])
