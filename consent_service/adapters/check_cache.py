"""The check cache: answers kept in this worker's memory between checks, dropped when a committed write
touches what they depend on, and the store that tells every worker so before it acknowledges.

DESIGN §4.1: a marketing *allow* must never outlive an acknowledged opt-out. Every committed write
publishes what it touched to the change feed before it is acknowledged (see ``SignallingStore``):
the topics of the people and addresses its changes name, or everything (``domain/invalidation.py``).
Each worker follows the feed and drops the answers that depend on a touched topic; a write that
touched everything (or a feed lost and made again) makes it forget them all. Entries also expire
after ``ttl`` seconds: that bounds how long a writer must hold its acknowledgement when it cannot
publish (Redis unreachable from it but not from the readers).

A feed that costs a round trip to read (Redis) is read at most once per its ``lease`` by each worker:
a read begun at time t is trusted until t + lease, and every writer waits a lease after publishing
before acknowledging, so no lease taken before a change outlives the change's acknowledgement. The
times are this host's monotonic clock; across hosts only the clocks' rates need agree.

An answer read from the database while a write commits may predate it, and the worker may already
have dropped the topic before the answer comes back. So a check notes how far the worker had followed
the feed before it asked the database (``Seen``), and its answer is kept only if none of the topics it
depends on was touched after that; the worker remembers each touched topic for ``ttl`` seconds to
tell.

Answers are also trusted only while the database has answered this worker within ``trust``
seconds: a worker answering from memory alone would not notice the database had gone, and while
it is gone no check may say "allowed" for marketing (DESIGN §4.2). So at least once per ``trust``
a check goes to the database, and once it has not answered for ``trust`` seconds nothing is served
from memory until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from consent_service.domain.decision import Answer
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.invalidation import Seen, touched
from consent_service.domain.leases import LeasedToken
from consent_service.domain.ports import AnswerKey, ChangeFeed, Store, UnitOfWork

log = logging.getLogger("consent_service.answers")

#: Each answer lives between ``(1 - SPREAD) * ttl`` and ``ttl``, at random. Were every answer to live
#: exactly ``ttl``, the answers kept together (a warm-up, a burst after a write that touched
#: everything) would expire together, and every ``ttl`` the worker would answer all of them from the
#: database at once: 2,000 addresses asked in turn missed about 1.8 times each a lifetime, not once,
#: and a p99 of 27 ms. Shorter never longer, so no answer outlives what ``ttl`` promises.
SPREAD = 0.2


@dataclass(slots=True)
class _Kept:
    epoch: int
    expires: float
    answer: Answer
    depends_on: frozenset[str]


@dataclass(slots=True)
class AnswerCache:
    feed: ChangeFeed
    ttl: float = 2.0
    capacity: int = 200_000
    #: Seconds an answer from memory is trusted after the database last answered this worker.
    trust: float = 0.25
    #: How much shorter than ``ttl`` an answer may live, at random (``SPREAD``).
    spread: float = SPREAD
    _entries: OrderedDict[AnswerKey, _Kept] = field(default_factory=OrderedDict)
    #: The answers that depend on each topic, to drop them when it is touched.
    _by_topic: dict[str, set[AnswerKey]] = field(default_factory=dict)
    #: Topics touched in the last ``ttl`` seconds: the feed position each was touched at, and when
    #: this worker read it, oldest first.
    _touched: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)
    #: Moves whenever every answer is forgotten; an answer is kept and served only under the epoch
    #: its check began in.
    _epoch: int = 0
    _generation: str | None = None
    _position: int | None = None
    #: When the last read of the feed that this worker applied began.
    _followed_at: float = float("-inf")
    _database_seen: float = float("-inf")
    #: The questions a check of this worker is asking the database now.
    _asking: dict[AnswerKey, asyncio.Future[None]] = field(default_factory=dict)
    _token: LeasedToken[Seen] = field(init=False)

    def __post_init__(self) -> None:
        self._token = LeasedToken(self._follow, self.feed.lease)

    def database_answered(self) -> None:
        self._database_seen = time.monotonic()

    async def token(self) -> Seen | None:
        """How far this worker has followed the feed; read again only once the last read's lease has
        run out, and then by one check for all that arrive while it is read (``domain/leases.py``)."""
        return await self._token.current()

    async def _follow(self) -> Seen | None:
        began = time.monotonic()
        # A worker that has not followed the feed for ``ttl`` seconds holds no answer worth keeping,
        # and what was published meanwhile may have been trimmed: it starts again from now.
        following = self._generation is not None and began - self._followed_at < self.ttl
        view = await self.feed.read(self._position if following else None)
        if view is None:
            return None
        if began < self._followed_at:
            # Overtaken by a read begun later and already applied: drop what it names (always
            # safe), but neither its generation nor its position may stand.
            for topic in view.topics:
                self._drop(topic, view.position or 0, began)
            return None
        if not following or not view.complete or view.generation != self._generation:
            self._forget()
            self._generation, self._position = view.generation, view.position
        else:
            for topic in view.topics:
                self._drop(topic, view.position or 0, began)
            if view.position is not None:
                # Two reads in flight may come back out of order: what was applied stays applied.
                self._position = max(view.position, self._position or 0)
        self._followed_at = began
        while self._touched and next(iter(self._touched.values()))[1] < began - self.ttl:
            self._touched.popitem(last=False)
        return Seen(self._epoch, self._position, began)

    def _forget(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self._by_topic.clear()
        self._touched.clear()

    def _drop(self, topic: str, position: int, at: float) -> None:
        for key in self._by_topic.pop(topic, ()):
            self._remove(key)
        # Never lowered (a read overtaken by a later one names an earlier position): ``put`` must
        # still refuse an answer read before the later write.
        seen = self._touched.get(topic)
        if seen is None or seen[0] < position:
            self._touched[topic] = (position, at)
            self._touched.move_to_end(topic)

    def _remove(self, key: AnswerKey) -> None:
        kept = self._entries.pop(key, None)
        if kept is None:
            return
        for topic in kept.depends_on:
            keys = self._by_topic.get(topic)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_topic[topic]

    def get(self, key: AnswerKey, token: Seen | None) -> Answer | None:
        if token is None or token.epoch != self._epoch:
            return None
        if time.monotonic() - self._database_seen > self.trust:
            return None
        kept = self._entries.get(key)
        if kept is None or kept.epoch != token.epoch or kept.expires < time.monotonic():
            return None
        return kept.answer

    def put(self, key: AnswerKey, token: Seen | None, answer: Answer, depends_on: frozenset[str]) -> None:
        """Keep an answer read after ``token`` was taken, unless something it depends on was touched
        since then: the database may have answered from before that write."""
        if token is None or answer.degraded or token.epoch != self._epoch:
            return
        now = time.monotonic()
        if now - token.at >= self.ttl / 2:
            return  # older than the memory of touched topics can vouch for
        if token.position is not None:
            for topic in depends_on:
                seen = self._touched.get(topic)
                if seen is not None and seen[0] > token.position:
                    return
        self._remove(key)
        lifetime = self.ttl * (1 - self.spread * random.random())  # noqa: S311 - spreads expiries, no secret
        self._entries[key] = _Kept(self._epoch, now + lifetime, answer, depends_on)
        for topic in depends_on:
            self._by_topic.setdefault(topic, set()).add(key)
        # Entries are kept in the order they were put, so the expired ones are at the front (give or
        # take ``SPREAD``): dropping them here keeps the cache to the answers of the last ``ttl``
        # seconds instead of letting it fill to ``capacity`` with answers nobody may use any more.
        while self._entries:
            oldest_key, oldest = next(iter(self._entries.items()))
            if oldest.expires >= now and len(self._entries) <= self.capacity:
                break
            self._remove(oldest_key)

    async def after_the_asker(self, key: AnswerKey) -> bool:
        """Wait for the check of this worker that is asking the database this question, if one is;
        True if one was. Its answer is then in memory if it could be kept (``put``'s rule), and the
        caller asks ``get`` again: checks of one address arriving together ask the database once.
        Without this, an answer that expired was asked for again by every check of it that came
        before the first asker was back (with ``SPREAD``: 2,000 addresses in turn, database reads 720
        a second before, 385 after)."""
        asked = self._asking.get(key)
        if asked is None:
            return False
        await asyncio.shield(asked)
        return True

    @contextlib.contextmanager
    def asking(self, key: AnswerKey) -> Iterator[None]:
        """This check is asking the database about ``key``: checks of it meanwhile wait for it."""
        if key in self._asking:
            yield  # another asker is already out; this one does not stand in its place
            return
        asked = self._asking[key] = asyncio.get_running_loop().create_future()
        try:
            yield
        finally:
            del self._asking[key]
            asked.set_result(None)

    def held(self) -> int:
        """How many answers are kept (not ``__len__``: an empty cache must not test false and go unused)."""
        return len(self._entries)

    async def keep_trust(self, store: Store, every: float = 0.1) -> None:
        """Asks the database every ``every`` seconds whether it answers, so the cache's trust in it
        (0.25 s) is kept up by this, not by checks: under load a run of cache hits must not make
        every check go to the database at once just to learn it is still there."""
        while True:
            with contextlib.suppress(StoreUnavailable, TimeoutError):
                async with asyncio.timeout(every * 2):
                    await store.ping()
                self.database_answered()
            await asyncio.sleep(every)


class SignallingStore:
    """A store whose every committed write publishes what it touched before the caller can
    acknowledge it."""

    def __init__(self, inner: Store, feed: ChangeFeed, hold: float) -> None:
        self._inner = inner
        self._feed = feed
        self._hold = hold

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._inner.reading()

    def writing(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._writing()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[UnitOfWork]:
        async with self._inner.writing() as uow:
            yield uow
        if await self._feed.publish(touched(uow.changes)):
            if self._feed.lease > 0:
                await asyncio.sleep(self._feed.lease)
        else:
            # Readers may still trust answers from before this commit, but none for longer than the
            # cache's time to live: wait that out rather than acknowledge too early.
            log.error(
                "holding a write's acknowledgement for %.1f s: the change feed is unreachable", self._hold
            )
            await asyncio.sleep(self._hold)

    async def ping(self) -> None:
        await self._inner.ping()

    async def durability(self) -> list[str]:
        return await self._inner.durability()

    async def dispose(self) -> None:
        await self._inner.dispose()
        await self._feed.close()
