"""The change feed on a real Redis: what one worker publishes, another reads; a lost feed is noticed.

Every worker follows one Redis stream of the topics each write touched (``adapters/signals.py:
RedisFeed``). A stream that is flushed or evicted loses entries a worker may not have read yet, so
whoever finds it missing makes it again together with a new generation, and every worker forgets.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from consent_service.adapters.check_cache import AnswerCache
from consent_service.adapters.signals import RedisFeed, RedisSignal
from consent_service.domain.decision import Answer, Reason
from consent_service.domain.invalidation import depends_on, person_topic

ALLOW = Answer(True, Reason.CONSENT_GRANTED)
KEY = ("fingerprint", "", "marketing", "email")


@pytest.fixture
async def namespace(redis_url: str) -> AsyncIterator[str]:
    name = f"test-feed-{secrets.token_hex(4)}"
    yield name
    client = Redis.from_url(redis_url)
    await client.delete(*(f"consent:{name}:{key}" for key in ("feed-generation", "generation", "changes")))
    await client.aclose()


@pytest.fixture
async def feeds(redis_url: str, namespace: str) -> AsyncIterator[tuple[RedisFeed, RedisFeed, Redis]]:
    writer, reader = RedisFeed(redis_url, namespace, lease=0), RedisFeed(redis_url, namespace, lease=0)
    client = Redis.from_url(redis_url)
    yield writer, reader, client
    await writer.close()
    await reader.close()
    await client.aclose()


async def test_what_one_worker_publishes_another_reads_in_order(
    feeds: tuple[RedisFeed, RedisFeed, Redis],
) -> None:
    writer, reader, _ = feeds
    assert await reader.read(None) is None  # no feed yet: made now, and nothing trusted meanwhile
    start = await reader.read(None)
    assert start is not None and start.position is not None
    assert await writer.publish(frozenset({person_topic("a")}))
    assert await writer.publish(frozenset({person_topic("b"), person_topic("c")}))
    seen = await reader.read(start.position)
    assert seen is not None
    assert (seen.generation, seen.complete) == (start.generation, True)
    assert seen.topics == (person_topic("a"), person_topic("b"), person_topic("c"))
    again = await reader.read(seen.position)
    assert again is not None and again.topics == () and again.position == seen.position
    assert await writer.publish(None)  # a write that touched everything
    moved = await reader.read(seen.position)
    assert moved is not None and moved.generation != start.generation


async def test_a_feed_lost_under_a_following_worker_makes_it_forget(
    feeds: tuple[RedisFeed, RedisFeed, Redis], namespace: str
) -> None:
    writer, reader, client = feeds
    cache = AnswerCache(reader, trust=math.inf)
    await cache.token()  # the feed is made
    cache.database_answered()
    cache.put(KEY, await cache.token(), ALLOW, depends_on(["fingerprint"], ["a"]))
    assert cache.get(KEY, await cache.token()) is ALLOW
    # A withdrawal for "a" is published, then the stream is evicted before this worker reads it.
    assert await writer.publish(frozenset({person_topic("a")}))
    await client.delete(f"consent:{namespace}:changes")
    assert await cache.token() is None  # nothing trusted while the feed is made again
    assert cache.get(KEY, await cache.token()) is None
    assert cache.held() == 0


async def test_a_writer_that_finds_the_feed_lost_makes_every_worker_forget(
    feeds: tuple[RedisFeed, RedisFeed, Redis], namespace: str
) -> None:
    writer, reader, client = feeds
    await reader.read(None)
    start = await reader.read(None)
    assert start is not None
    await client.delete(f"consent:{namespace}:changes")
    assert await writer.publish(frozenset({person_topic("a")}))
    after = await reader.read(start.position)
    assert after is not None and after.generation != start.generation


async def test_workers_of_the_older_version_and_of_this_one_never_trust_each_others_stale_answers(
    feeds: tuple[RedisFeed, RedisFeed, Redis], redis_url: str, namespace: str
) -> None:
    """In a rolling upgrade, workers of the version before the feed follow one signal that every write
    moved. A write here deletes it, so an older worker trusts nothing it kept; an older worker's write
    moves it, and a worker here forgets everything."""
    writer, reader, _ = feeds
    older = RedisSignal(redis_url, namespace, lease=0)
    try:
        await older.current()  # the older worker makes its signal
        kept_under = await older.current()
        assert kept_under is not None
        assert await writer.publish(frozenset({person_topic("a")}))
        assert await older.current() != kept_under, "an older worker would keep answers a write changed"

        await reader.read(None)
        start = await reader.read(None)
        assert start is not None and start.position is not None
        assert await older.bump()  # an older worker's write names nothing
        after = await reader.read(start.position)
        assert after is not None and after.generation != start.generation
    finally:
        await older.close()
