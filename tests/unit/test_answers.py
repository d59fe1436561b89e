"""The answer cache and the signalling store: no cached answer survives a committed write that touched
what it depends on, and answers about others survive it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from consent_service.adapters.check_cache import AnswerCache, SignallingStore
from consent_service.domain.changes import Change, ChangeType
from consent_service.domain.decision import Answer, Reason
from consent_service.domain.invalidation import FeedView, depends_on, person_topic

ALLOW = Answer(True, Reason.CONSENT_GRANTED)
KEY = ("fingerprint", "", "marketing", "email")
#: What KEY's answer was read from: its address, and the one person it belongs to.
DEPENDS = depends_on(["fingerprint"], ["person-1"])
OTHER = ("other", "", "marketing", "email")
OTHER_DEPENDS = depends_on(["other"], ["person-2"])


class Feed:
    """Stands in for the change feed: a generation, and a log of the topics each write touched."""

    def __init__(self, publishes: bool = True, lease: float = 0.0) -> None:
        self.generation = 0
        self.log: list[tuple[str, ...]] = []
        self.publishes = publishes
        self.lease = lease
        self.reads = 0
        self.readable = True
        self.complete = True

    async def read(self, after: int | None) -> FeedView | None:
        self.reads += 1
        if not self.readable:
            return None
        if after is None:
            return FeedView(str(self.generation), len(self.log))
        topics = tuple(t for entry in self.log[after:] for t in entry)
        return FeedView(str(self.generation), len(self.log), topics, self.complete)

    async def publish(self, topics: frozenset[str] | None) -> bool:
        if not self.publishes:
            return False
        if topics is None:
            self.generation += 1
        else:
            self.log.append(tuple(sorted(topics)))
        return True

    async def close(self) -> None:
        return None


class Store:
    """Stands in for the database: counts commits; each write announces ``changes``."""

    def __init__(self, changes: Sequence[Change] = ()) -> None:
        self.commits = 0
        self.changes = list(changes)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        yield SimpleNamespace(changes=self.changes)
        self.commits += 1

    def reading(self) -> AbstractAsyncContextManager[Any]:
        return self._transaction()

    def writing(self) -> AbstractAsyncContextManager[Any]:
        return self._transaction()

    async def ping(self) -> None:
        return None

    async def durability(self) -> list[str]:
        return []

    async def dispose(self) -> None:
        return None


def withdrawal(person_id: str) -> Change:
    return Change(ChangeType.CONSENT_RECORDED, None, {"person_id": person_id})  # type: ignore[arg-type]


def answers(feed: Feed, **options: float) -> AnswerCache:
    """A cache whose worker has just heard from the database (trust is tested on its own below)."""
    options.setdefault("trust", math.inf)
    cache = AnswerCache(feed, **options)  # type: ignore[arg-type]
    cache.database_answered()
    return cache


async def test_memory_is_trusted_only_while_the_database_answers() -> None:
    cache = AnswerCache(Feed(), trust=60.0)
    seen = await cache.token()
    cache.put(KEY, seen, ALLOW, DEPENDS)
    assert cache.get(KEY, seen) is None  # this worker has not heard from the database yet
    cache.database_answered()
    assert cache.get(KEY, seen) is ALLOW
    quick = AnswerCache(Feed(), trust=0.0)
    seen = await quick.token()
    quick.put(KEY, seen, ALLOW, DEPENDS)
    quick.database_answered()
    time.sleep(0.001)
    assert quick.get(KEY, seen) is None  # silence from the database for longer than the trust


async def test_a_write_that_touched_everything_makes_every_answer_go() -> None:
    feed = Feed()
    cache = answers(feed)
    cache.put(KEY, await cache.token(), ALLOW, DEPENDS)
    assert cache.get(KEY, await cache.token()) is ALLOW
    await feed.publish(None)
    assert cache.get(KEY, await cache.token()) is None
    assert cache.held() == 0


async def test_a_write_drops_the_answers_that_depend_on_what_it_touched_and_keeps_the_rest() -> None:
    feed = Feed()
    cache = answers(feed)
    seen = await cache.token()
    cache.put(KEY, seen, ALLOW, DEPENDS)
    cache.put(OTHER, seen, ALLOW, OTHER_DEPENDS)
    await feed.publish(frozenset({person_topic("person-1")}))  # person-1 withdrew
    seen = await cache.token()
    assert cache.get(KEY, seen) is None
    assert cache.get(OTHER, seen) is ALLOW
    assert cache.held() == 1


async def test_an_answer_read_before_a_write_is_not_kept_once_the_worker_has_heard_of_the_write() -> None:
    """The database answered from before a withdrawal committed; by the time the answer comes back, the
    worker has already dropped what the withdrawal touched. Kept now, it would outlive the withdrawal."""
    feed = Feed()
    cache = answers(feed)
    before = await cache.token()  # the check begins and asks the database
    await feed.publish(frozenset({person_topic("person-1")}))  # the withdrawal commits and publishes
    assert cache.get(KEY, await cache.token()) is None  # another check follows the feed meanwhile
    cache.put(KEY, before, ALLOW, DEPENDS)  # the first check's answer, from before the withdrawal
    assert cache.get(KEY, await cache.token()) is None
    cache.put(OTHER, before, ALLOW, OTHER_DEPENDS)  # an answer about someone else is kept
    assert cache.get(OTHER, await cache.token()) is ALLOW


async def test_an_answer_kept_under_an_earlier_forgetting_is_never_served() -> None:
    feed = Feed()
    cache = answers(feed)
    before = await cache.token()
    await feed.publish(None)
    after = await cache.token()
    cache.put(KEY, before, ALLOW, DEPENDS)
    assert cache.get(KEY, after) is None
    assert cache.held() == 0


async def test_a_feed_read_in_part_or_followed_too_late_makes_the_worker_forget() -> None:
    feed = Feed()
    cache = answers(feed)
    cache.put(KEY, await cache.token(), ALLOW, DEPENDS)
    feed.complete = False
    await feed.publish(frozenset({person_topic("someone-else")}))
    assert cache.get(KEY, await cache.token()) is None
    feed.complete = True
    late = answers(feed, ttl=0.02)
    late.put(KEY, await late.token(), ALLOW, DEPENDS)
    time.sleep(0.03)  # not followed for longer than an answer lives: what it missed may be gone
    assert late.get(KEY, await late.token()) is None


async def test_an_unreadable_feed_trusts_nothing() -> None:
    feed = Feed()
    cache = answers(feed)
    cache.put(KEY, await cache.token(), ALLOW, DEPENDS)
    feed.readable = False
    assert await cache.token() is None
    assert cache.get(KEY, None) is None
    cache.put(OTHER, None, ALLOW, OTHER_DEPENDS)
    assert cache.held() == 1


async def test_entries_expire_and_degraded_answers_are_never_kept() -> None:
    cache = answers(Feed(), ttl=0.01)
    seen = await cache.token()
    cache.put(KEY, seen, ALLOW, DEPENDS)
    time.sleep(0.011)
    assert cache.get(KEY, seen) is None
    fresh = answers(Feed())
    seen = await fresh.token()
    fresh.put(KEY, seen, Answer(False, Reason.STORE_UNAVAILABLE, degraded=True), DEPENDS)
    assert fresh.get(KEY, seen) is None


async def test_answers_kept_together_do_not_all_expire_together() -> None:
    """Answers kept in one burst (a warm-up, after a write that touched everything) expire over the
    last fifth of their lifetime, not at one instant that would send every check to the database."""
    cache = answers(Feed(), ttl=1.0)
    seen = await cache.token()
    keys = [(str(i), "", "marketing", "email") for i in range(200)]
    for key in keys:
        cache.put(key, seen, ALLOW, depends_on([key[0]], []))
    await asyncio.sleep(0.9)
    still = sum(cache.get(key, seen) is ALLOW for key in keys)
    assert 0 < still < len(keys)
    await asyncio.sleep(0.11)
    assert sum(cache.get(key, seen) is ALLOW for key in keys) == 0  # none outlives ttl


async def test_a_check_that_arrives_while_another_asks_the_database_waits_for_its_answer() -> None:
    cache = answers(Feed())
    seen = await cache.token()
    assert not await cache.after_the_asker(KEY)  # no one asking: the caller asks itself
    order: list[str] = []

    async def waiter() -> Answer | None:
        assert await cache.after_the_asker(KEY)
        order.append("waited")
        return cache.get(KEY, seen)

    with cache.asking(KEY):
        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        order.append("answered")
        cache.put(KEY, seen, ALLOW, DEPENDS)
    assert await waiting is ALLOW
    assert order == ["answered", "waited"]
    # An asker whose answer may not be kept (degraded, or touched meanwhile) leaves the waiter with
    # nothing from memory: it asks the database itself.
    with cache.asking(OTHER):
        waiting = asyncio.create_task(waiter_of(cache, OTHER, seen))
        await asyncio.sleep(0)
        cache.put(OTHER, seen, Answer(False, Reason.STORE_UNAVAILABLE, degraded=True), OTHER_DEPENDS)
    assert await waiting is None


async def waiter_of(cache: AnswerCache, key: Any, seen: Any) -> Answer | None:
    await cache.after_the_asker(key)
    return cache.get(key, seen)


async def test_the_cache_is_bounded() -> None:
    cache = answers(Feed(), capacity=2)
    seen = await cache.token()
    for i in range(3):
        cache.put((str(i), "", "marketing", "email"), seen, ALLOW, depends_on([str(i)], []))
    assert cache.get(("0", "", "marketing", "email"), seen) is None
    assert cache.get(("2", "", "marketing", "email"), seen) is ALLOW


async def test_expired_answers_leave_memory_without_waiting_for_the_capacity() -> None:
    """A worker checking ever-new addresses keeps only the last ``ttl`` seconds of answers, not
    ``capacity`` of them: the cache stays the size of its use, not of its limit."""
    cache = answers(Feed(), ttl=0.2)
    seen = await cache.token()
    for i in range(100):
        cache.put((str(i), "", "marketing", "email"), seen, ALLOW, depends_on([str(i)], []))
    assert cache.held() == 100
    await asyncio.sleep(0.21)
    cache.put(("fresh", "", "marketing", "email"), await cache.token(), ALLOW, DEPENDS)
    assert cache.held() == 1
    # An answer stored again moves behind the others, so it cannot hold expired ones in memory.
    cache = answers(Feed(), ttl=0.2, spread=0.0)
    seen = await cache.token()
    for i in range(100):
        cache.put((str(i), "", "marketing", "email"), seen, ALLOW, depends_on([str(i)], []))
    await asyncio.sleep(0.05)
    cache.put(("0", "", "marketing", "email"), await cache.token(), ALLOW, depends_on(["0"], []))
    await asyncio.sleep(0.16)
    cache.put(("fresh", "", "marketing", "email"), await cache.token(), ALLOW, DEPENDS)
    assert cache.held() == 2
    assert cache.get(("0", "", "marketing", "email"), await cache.token()) is ALLOW


async def test_a_committed_write_publishes_what_it_touched_before_it_returns() -> None:
    feed, inner = Feed(), Store([withdrawal("person-1")])
    store = SignallingStore(inner, feed, hold=1.0)
    async with store.writing():
        assert feed.log == []
    assert (inner.commits, feed.log, feed.generation) == (1, [(person_topic("person-1"),)], 0)
    async with SignallingStore(Store(), feed, hold=1.0).writing():
        pass  # a write that announces nothing is not known to change no answer: everything
    assert feed.generation == 1


async def test_a_failed_write_publishes_nothing() -> None:
    feed = Feed()
    store = SignallingStore(Store([withdrawal("person-1")]), feed, hold=1.0)
    with pytest.raises(RuntimeError):
        async with store.writing():
            raise RuntimeError("refused")
    assert (feed.generation, feed.log) == (0, [])


async def test_a_writer_that_cannot_publish_holds_its_answer_for_the_cache_lifetime() -> None:
    store = SignallingStore(Store(), Feed(publishes=False), hold=0.05)
    started = time.monotonic()
    async with store.writing():
        pass
    assert time.monotonic() - started >= 0.05


async def test_a_leased_read_is_made_once_per_lease_and_never_outlives_an_acknowledged_write() -> None:
    feed = Feed(lease=0.05)
    cache, store = answers(feed), SignallingStore(Store([withdrawal("person-1")]), feed, hold=1.0)
    token = await cache.token()
    cache.put(KEY, token, ALLOW, DEPENDS)
    for _ in range(100):
        assert cache.get(KEY, await cache.token()) is ALLOW
    assert feed.reads == 1
    async with store.writing():
        pass  # a withdrawal commits; leaving the block is its acknowledgement
    assert cache.get(KEY, await cache.token()) is None
    assert feed.reads == 2


class SlowFeed(Feed):
    """A feed whose next read is taken at once but answered only when ``answer`` is set, as a read
    held up in the network is."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next = False
        self.answer = asyncio.Event()

    async def read(self, after: int | None) -> FeedView | None:
        view = await super().read(after)
        if self.hold_next:
            self.hold_next = False
            await self.answer.wait()
        return view


async def test_a_read_of_the_feed_that_comes_back_late_cannot_let_a_stale_answer_in() -> None:
    """Two reads of the feed in flight can come back out of order. The late one names a write at an
    earlier point than the worker has already seen; it must not make the worker forget the later one,
    or an answer read before that later write would be kept."""
    feed = SlowFeed()
    cache = answers(feed)
    await cache.token()
    await feed.publish(frozenset({person_topic("person-1")}))  # a first write for person-1
    feed.hold_next = True
    late = asyncio.create_task(cache.token())  # reads the feed now, answered later
    await asyncio.sleep(0)
    seen = await cache.token()  # another read, applied first
    # A check begins under ``seen`` and asks the database; person-1 withdraws meanwhile.
    await feed.publish(frozenset({person_topic("person-1")}))
    await cache.token()  # the worker follows the feed: person-1 touched at the later point
    feed.answer.set()
    assert await late is None  # overtaken: it names person-1 at the earlier point only
    cache.put(KEY, seen, ALLOW, DEPENDS)  # the answer from before the withdrawal
    assert cache.get(KEY, await cache.token()) is None
