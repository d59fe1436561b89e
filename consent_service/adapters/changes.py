"""Where the relay tells of changes: a Redis stream, and webhooks over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from redis.asyncio import Redis

from consent_service.domain.change_ports import DeliveryFailed
from consent_service.domain.changes import PublishedChange
from consent_service.domain.destinations import Destinations


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

    A name let in only by ``public`` is resolved here, refused if any of its addresses is not public,
    and then connected to at the address that was checked (the name kept in ``Host`` and in TLS, so
    the certificate is verified for the name): resolving it again to connect would let a name whose
    records change in between (DNS rebinding) take the delivery somewhere that was never checked.
    """

    def __init__(self, timeout: float, destinations: Destinations) -> None:
        # No redirects: a webhook that moved should be registered again, not followed blindly (and a
        # redirect would take the delivery past the destination check).
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.destinations = destinations
        self.timeout = timeout

    async def _resolve(self, host: str, port: int) -> list[str]:
        async with asyncio.timeout(self.timeout):
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in found]

    async def _destination(self, url: str) -> tuple[str, dict[str, Any]]:
        """Where to connect for ``url`` and the request extensions that go with it; raises
        ``DeliveryFailed`` where the destinations do not allow it."""
        refused = self.destinations.refusal(url)
        if refused is not None:
            raise DeliveryFailed(f"not sent: {refused}")
        if not self.destinations.must_resolve(url):
            return url, {}
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await self._resolve(host, port)
        except (OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"not sent: {host} could not be resolved ({type(exc).__name__})") from exc
        refused = self.destinations.refusal_of_addresses(url, addresses)
        if refused is not None:
            raise DeliveryFailed(f"not sent: {refused}")
        address = addresses[0].split("%", 1)[0]
        literal = f"[{address}]" if ":" in address else address
        userinfo = parts.netloc.rpartition("@")[0]
        pinned = urlunsplit(parts._replace(netloc=f"{userinfo}@" * bool(userinfo) + f"{literal}:{port}"))
        return pinned, {"sni_hostname": host} if parts.scheme == "https" else {}

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        target, extensions = await self._destination(url)
        if target != url:
            headers = {**headers, "Host": urlsplit(url).netloc.rpartition("@")[2]}
        try:
            response = await self._client.post(target, content=body, headers=headers, extensions=extensions)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"answered {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
