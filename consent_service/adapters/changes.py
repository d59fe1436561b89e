"""Where the relay tells of changes: a Redis stream, and webhooks over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis

from consent_service.domain.changes import PublishedChange
from consent_service.domain.destinations import Destinations
from consent_service.domain.ports import DeliveryFailed


class RedisChangeStream:
    """XADD per change, trimmed to about ``maxlen`` entries; entries carry the event id to de-duplicate."""

    def __init__(self, url: str, name: str, maxlen: int = 100_000) -> None:
        self._redis = Redis.from_url(url, socket_timeout=5)
        self.name = name
        self.maxlen = maxlen

    async def publish(self, changes: Sequence[PublishedChange]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for published in changes:
                event = published.as_dict()
                fields: dict[bytes | bytearray | memoryview[int] | str | int | float, Any] = {
                    "id": event["id"],
                    "type": event["type"],
                    "position": published.position,
                    "occurred_at": event["occurred_at"],
                    "data": json.dumps(event["data"], separators=(",", ":")),
                }
                pipe.xadd(self.name, fields, maxlen=self.maxlen, approximate=True)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


class HttpWebhookSender:
    """POSTs to a webhook only where ``destinations`` allows, checked again at every delivery.

    A name let in by ``public`` is resolved first and refused if any address is not public. httpx
    resolves it again to connect, so a name whose records change between the two (DNS rebinding)
    could still slip through; an organisation that needs more lists its receivers by name or network.
    """

    def __init__(self, timeout: float, destinations: Destinations) -> None:
        # No redirects: a webhook that moved should be registered again, not followed blindly (and a
        # redirect would take the delivery past the destination check).
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.destinations = destinations
        self.timeout = timeout

    async def _refusal(self, url: str) -> str | None:
        refused = self.destinations.refusal(url)
        if refused is not None or not self.destinations.must_resolve(url):
            return refused
        parts = urlsplit(url)
        try:
            async with asyncio.timeout(self.timeout):
                found = await asyncio.get_running_loop().getaddrinfo(
                    parts.hostname,
                    parts.port or (443 if parts.scheme == "https" else 80),
                    type=socket.SOCK_STREAM,
                )
        except (OSError, TimeoutError) as exc:
            return f"{parts.hostname} could not be resolved ({type(exc).__name__})"
        return self.destinations.refusal_of_addresses(url, [str(info[4][0]) for info in found])

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        refused = await self._refusal(url)
        if refused is not None:
            raise DeliveryFailed(f"not sent: {refused}")
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"answered {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
