"""Where the relay tells of changes: a Redis stream, and webhooks over HTTP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from redis.asyncio import Redis

from consent_service.domain.changes import PublishedChange
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
    def __init__(self, timeout: float) -> None:
        # No redirects: a webhook that moved should be registered again, not followed blindly.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"answered {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
