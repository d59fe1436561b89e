"""API keys: made with scopes the maker holds, shown once, recognised by their digest, listed, revoked,
and refused once expired.

How fast a revocation is felt (the README states the bound): every worker keeps its verdict on a key
in memory for at most ``KEY_TRUST_SECONDS`` (1 s), and only while the revocation signal it read
before asking the database is unchanged. A revocation moves that signal after its commit (a file
every worker on the host maps, or a Redis key), so it is usually felt on the next request; the one
second holds even when the signal cannot be moved (Redis away), and then ``revoke_key`` waits that
second before answering, so "revoked" is only said once no worker accepts the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from consent_service.domain.absent import NoSignal
from consent_service.domain.errors import InvalidInput, NotFound, StoreUnavailable
from consent_service.domain.keys import ApiKey, KeyScope, key_digest, may_grant, new_secret
from consent_service.domain.leases import LeasedToken
from consent_service.domain.ports import ChangeSignal, Clock, Store

#: The longest a worker answers for a key from memory: the bound on a revocation reaching every worker.
KEY_TRUST_SECONDS = 1.0
#: How often a worker writes the last use of the keys it has seen: never a database write per request.
LAST_USED_EVERY = 60.0
#: While the database cannot answer this worker, a key it verified within this long still opens the
#: API (unless the revocation signal has moved since), so checks go on answering, degraded, not 503.
STALE_LIMIT = 60.0


async def create_key(
    store: Store,
    clock: Clock,
    name: str,
    scopes: frozenset[KeyScope],
    maker: frozenset[KeyScope] | None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is never stored and never shown again. ``maker`` None: the CLI."""
    if not scopes:
        raise InvalidInput.one("scopes", "a key needs at least one scope")
    if maker is not None and not may_grant(maker, scopes):
        raise InvalidInput.one("scopes", "a key can only make keys with scopes it holds")
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput.one("expires_at", "a key must expire in the future")
    secret = new_secret()
    key = ApiKey(str(uuid.uuid4()), name, scopes, now, expires_at=expires_at)
    async with store.writing() as uow:
        await uow.keys.add(key, key_digest(secret))
    return key, secret


async def ensure_first_key(store: Store, clock: Clock) -> str | None:
    """On first start, one key with every scope, so the operator can make the others."""
    async with store.reading() as uow:
        if await uow.keys.count():
            return None
    _, secret = await create_key(store, clock, "first admin key", frozenset(KeyScope), None)
    return secret


async def list_keys(store: Store) -> list[ApiKey]:
    async with store.reading() as uow:
        return await uow.keys.listed()


async def revoke_key(ring: KeyRing, key_id: str) -> ApiKey:
    """Revokes a key (again is harmless: the first revocation's time stands) and answers only once
    no worker will accept it."""
    async with ring.store.writing() as uow:
        if await uow.keys.by_id(key_id) is None:
            raise NotFound(f"no API key {key_id}")
        await uow.keys.revoke(key_id, ring.clock.now())
        key = await uow.keys.by_id(key_id)
    assert key is not None  # noqa: S101 - read back in the transaction that found it
    await ring.revoked()
    return key


@dataclass(slots=True)
class _Verdict:
    key: ApiKey
    #: The revocation signal's token read before the database was asked.
    token: str | None
    #: When the database was asked (this worker's monotonic clock).
    at: float


@dataclass(slots=True)
class KeyRing:
    """Recognises presented keys, keeping each verdict in memory for a second so checks do not ask
    the database on every request, and notes when each key was last used."""

    store: Store
    clock: Clock
    #: Moved by every revocation; shared by every worker (and the command line) of this deployment.
    revocations: ChangeSignal = field(default_factory=NoSignal)
    trust: float = KEY_TRUST_SECONDS
    #: How long a lookup may take when a verdict this worker already holds could stand in for it.
    stale_timeout: float = 0.2
    _seen: dict[str, _Verdict] = field(default_factory=dict)
    _away_until: float = float("-inf")
    #: Key id -> its latest use not yet written.
    _uses: dict[str, datetime] = field(default_factory=dict)
    _token: LeasedToken[str] = field(init=False)

    def __post_init__(self) -> None:
        self._token = LeasedToken(self.revocations.current, self.revocations.lease)

    async def recognise(self, secret: str) -> ApiKey | None:
        digest = key_digest(secret)
        token = await self._current_token()
        seen = self._seen.get(digest)
        if seen is not None and token is not None and seen.token == token:
            age = time.monotonic() - seen.at
            key = seen.key if age < self.trust else await self._look_up(digest, token, seen)
        else:
            key = await self._look_up(digest, token, None)
        if key is None or not key.usable(self.clock.now()):
            return None
        self._uses[key.id] = self.clock.now()
        return key

    async def _current_token(self) -> str | None:
        """The signal's token, read again only once the last read's lease has run out (as the check
        cache does: a revocation waits a lease after moving it), by one request for all waiting."""
        return await self._token.current()

    async def _look_up(self, digest: str, token: str | None, stale: _Verdict | None) -> ApiKey | None:
        asked = time.monotonic()
        fallback = stale if stale is not None and asked - stale.at < STALE_LIMIT else None
        if fallback is not None and asked < self._away_until:
            # The database failed this worker less than ``trust`` ago: ask again only once a second.
            return fallback.key
        try:
            async with asyncio.timeout(self.stale_timeout if fallback else None):
                async with self.store.reading() as uow:
                    key = await uow.keys.by_digest(digest)
        except (StoreUnavailable, TimeoutError):
            self._away_until = time.monotonic() + self.trust
            if fallback is None:
                raise
            return fallback.key
        self._away_until = float("-inf")
        if key is None:
            # Unknown digests are not kept: a stream of made-up keys must not fill memory.
            self._seen.pop(digest, None)
            return None
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[digest] = _Verdict(key, token, asked)
        return key

    async def revoked(self) -> None:
        """After a revocation's commit: tell every worker, or wait until none can still trust the key."""
        if await self.revocations.bump():
            await asyncio.sleep(self.revocations.lease)
        else:
            await asyncio.sleep(self.trust)

    async def write_uses(self) -> None:
        """Writes the last use of each key seen since the last call, in one transaction."""
        uses, self._uses = self._uses, {}
        if not uses:
            return
        try:
            async with self.store.writing() as uow:
                await uow.keys.used(uses)
        except StoreUnavailable:
            # Kept for the next round; a newer use of the same key replaces it.
            self._uses = uses | self._uses
            raise

    async def record_uses(self, every: float = LAST_USED_EVERY) -> None:
        """Runs beside a worker's requests: "last used" is at most ``every`` seconds behind."""
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(StoreUnavailable, TimeoutError):
                await self.write_uses()

    async def close(self) -> None:
        await self.revocations.close()
