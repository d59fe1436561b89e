"""API keys: made with scopes the maker holds, shown once, recognised by their digest."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from consent_service.domain.errors import InvalidInput
from consent_service.domain.keys import ApiKey, KeyScope, key_digest, may_grant, new_secret
from consent_service.domain.ports import Clock, Store

#: A key seen recently is trusted from memory for this long (keys cannot be revoked yet).
KEY_CACHE_SECONDS = 60.0


async def create_key(
    store: Store, clock: Clock, name: str, scopes: frozenset[KeyScope], maker: frozenset[KeyScope] | None
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is never stored and never shown again. ``maker`` None: the CLI."""
    if not scopes:
        raise InvalidInput.one("scopes", "a key needs at least one scope")
    if maker is not None and not may_grant(maker, scopes):
        raise InvalidInput.one("scopes", "a key can only make keys with scopes it holds")
    secret = new_secret()
    key = ApiKey(str(uuid.uuid4()), name, scopes, clock.now())
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


@dataclass(slots=True)
class KeyRing:
    """Recognises presented keys, keeping recent answers in memory so checks do not ask the database."""

    store: Store
    _seen: dict[str, tuple[float, ApiKey]] = field(default_factory=dict)

    async def recognise(self, secret: str) -> ApiKey | None:
        digest = key_digest(secret)
        cached = self._seen.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self.store.reading() as uow:
            key = await uow.keys.by_digest(digest)
        if key is None or key.revoked_at is not None:
            return None
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[digest] = (time.monotonic() + KEY_CACHE_SECONDS, key)
        return key
