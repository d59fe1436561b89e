"""The client's address behind a trusted reverse proxy (``CONSENT_TRUSTED_PROXIES``).

Behind a proxy every request's peer is the proxy, so the public pages' rate limit (60 a minute per
client) would be shared by every family. From a peer on the trusted list only, the client is taken
from ``X-Forwarded-For`` (the right-most address that is not itself a trusted proxy: each proxy
appends the peer it saw, and only the hops added by trusted proxies can be believed) or, when that
header is absent, ``X-Real-IP``. The ASGI scope's ``client`` is rewritten, so the rate limit and
anything else that reads ``request.client`` see the same address. From any other peer both headers
are ignored, so a client cannot choose its own rate-limit bucket by rotating them.

The parsing is uvicorn's ``ProxyHeadersMiddleware`` (a dependency already, as the alternative server):
it reads ``X-Forwarded-For`` right to left and trusts networks. It knows no ``X-Real-IP``, so a
trusted peer's ``X-Real-IP`` is handed to it as a one-hop ``X-Forwarded-For``. It also takes the
scheme from a trusted peer's ``X-Forwarded-Proto``, which is what such a proxy sends it for.
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class ClientBehindProxy:
    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self._inner = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=list(trusted))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            peer = scope.get("client")
            if peer and peer[0] in self._inner.trusted_hosts:
                scope = _real_ip_as_forwarded(scope)
        await self._inner(cast(Any, scope), cast(Any, receive), cast(Any, send))


def _real_ip_as_forwarded(scope: Scope) -> Scope:
    headers = scope["headers"]
    if any(name == b"x-forwarded-for" for name, _ in headers):
        return scope
    real = next((value for name, value in headers if name == b"x-real-ip"), None)
    if real is None:
        return scope
    try:
        ipaddress.ip_address(real.decode("latin-1").strip())
    except ValueError:
        return scope  # not an address: the peer stays the client
    return cast(Scope, {**scope, "headers": [*headers, (b"x-forwarded-for", real)]})


def client_behind_proxy(trusted: tuple[str, ...]) -> list[DefineMiddleware]:
    """The middleware, first of all, when any proxy is trusted; none otherwise."""
    return [DefineMiddleware(ClientBehindProxy, trusted=trusted)] if trusted else []
