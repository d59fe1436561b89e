"""``POST /v1/checks`` answered before Litestar routes it, when nothing about the request is unusual.

A mailing tool checks before every send, so this one route sets how fast the service is. With the
answer in memory, Litestar's routing, middleware stack, guard (and the copy of the route handler it
makes for each guard), signature model and response building took about four times the time of the
check itself (py-spy, issue 15). Litestar offers no lighter route, so this ASGI wrapper around its
handler answers the ordinary request itself and hands every other one to Litestar unchanged:

* it answers only ``POST /v1/checks`` with no query, a JSON body whose length is declared and
  small, a bearer key that is recognised and holds the route's scope (read from the route itself,
  ``security.may_use``), and a body that decodes strictly to ``CheckIn`` and spells neither an escape
  nor a year that ``strict_inputs`` looks at more closely;
* the answer is made by the route's own ``answer_check``, so the two cannot decide differently;
* anything else (no key, a bad body, an unknown purpose, a database that cannot be reached) goes to
  Litestar with the body replayed and the request id kept, which answers it as it always has: its
  problem+json, its status, its count. ``answer_check`` counts a check only once its answer is
  whole, so a request handed on after an error is counted once, by Litestar's route.

What it keeps of the middleware it passes by: the request id (``logs.request_id_of``, echoed and on
every log line) and the request metrics, counted into the route's own series (``RequestMetrics``).
Rate limiting, CSRF and sessions apply only to pages, never to this route.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.serialization import encode_json
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from consent_service.api import schemas as s
from consent_service.api.context import context_of
from consent_service.api.controllers.checks import answer_check
from consent_service.api.controllers.metrics import PROMETHEUS, RequestMetrics
from consent_service.api.inputs import EDGE_SPELLINGS
from consent_service.api.logs import HEADER, request_id_of
from consent_service.api.security import SCOPES_OPT, may_use
from consent_service.logs import request_id

PATH = "/v1/checks"

#: A check's body is a purpose, a channel and one address (a postal one at most 8 lines of 200
#: characters): anything longer is left to Litestar, which reads and limits bodies of any size.
LONGEST_BODY = 8 * 1024

_decode = msgspec.json.Decoder(s.CheckIn, strict=True).decode

#: The request headers the shortcut reads (and ``transfer-encoding``, which it leaves to Litestar).
_READ = frozenset({b"authorization", b"content-length", b"content-type"})


class CheckShortcut:
    """Wraps the app's ASGI handler (``install``); see the module's docstring for what it answers."""

    def __init__(self, app: Litestar, inner: ASGIApp) -> None:
        self.inner = inner
        self.ctx = context_of(app)
        [route] = [r for r in app.routes if isinstance(r, HTTPRoute) and r.path == PATH]
        self.required = route.route_handler_map["POST"][0].opt.get(SCOPES_OPT)
        self.metrics = RequestMetrics(inner, PROMETHEUS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope["query_string"]
        ):
            await self.inner(scope, receive, send)
            return
        secret, length = _ordinary(scope["headers"])
        if secret is None or length is None:
            await self.inner(scope, receive, send)
            return
        started = time.perf_counter()
        read = await _body(receive, length)
        if read is None:
            return  # the client went away before it had sent its body: no one to answer
        body, more = read
        value, encoded = request_id_of(scope)
        in_progress = self.metrics.in_progress("POST", PATH)
        in_progress.inc()
        token = request_id.set(value)
        answer: bytes | None = None
        try:
            answer = None if more else await self._answer(secret, body)
            if answer is not None:
                await send(
                    {"type": "http.response.start", "status": 200, "headers": _headers(answer, encoded)}
                )
                await send({"type": "http.response.body", "body": answer, "more_body": False})
        finally:
            request_id.reset(token)
            in_progress.dec()
            if answer is not None:
                self.metrics.answered("POST", PATH, 200, time.perf_counter() - started)
        if answer is None:
            await self.inner(_with_id(scope, encoded), _replay(body, more, receive), send)

    async def _answer(self, secret: str, body: bytes) -> bytes | None:
        """The answer's bytes, or None for Litestar to answer the request as it would any other."""
        if any(spelling in body for spelling in EDGE_SPELLINGS):
            return None
        try:
            data = _decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        try:
            key = await self.ctx.key_ring.recognise(secret)
            if key is None or not may_use(key, self.required):
                return None
            return encode_json(await answer_check(self.ctx, data))
        except Exception:  # Litestar's route raises it again, and answers it as problem+json
            return None


def install(app: Litestar) -> None:
    """Put the shortcut in front of everything the app does for a request, inside its ``__call__``.

    Litestar's ``__call__`` sets the scope's ``app`` and its before-send hooks, then calls
    ``asgi_handler`` (its exception handling around its router), so the shortcut wraps that and the
    app stays the Litestar object servers, tests and the lifespan use.
    """
    app.asgi_handler = CheckShortcut(app, app.asgi_handler)


def _ordinary(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, int | None]:
    """The bearer secret and the body's declared length, when the headers are as a mailing tool's are.

    A header this reads that comes twice is left to Litestar, which may read another of the two."""
    secret: str | None = None
    length: int | None = None
    json = False
    read: set[bytes] = set()
    for name, value in headers:
        if name in _READ:
            if name in read:
                return None, None
            read.add(name)
        if name == b"authorization":
            scheme, _, given = value.partition(b" ")
            secret = (
                given.strip().decode("latin-1") if scheme.lower() == b"bearer" and given.strip() else None
            )
        elif name == b"content-length":
            length = int(value) if value.isdigit() and int(value) <= LONGEST_BODY else None
        elif name == b"content-type":
            json = value.startswith(b"application/json")
        elif name == b"transfer-encoding":
            return None, None
    return (secret, length) if json else (None, None)


async def _body(receive: Receive, length: int) -> tuple[bytes, bool] | None:
    """The body, read up to its declared length, and whether the client sends more than it declared;
    None if the client went away first."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        part = message.get("body", b"")
        parts.append(part)
        size += len(part)
        if not message.get("more_body", False):
            return b"".join(parts), False
        if size > length:
            return b"".join(parts), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` as if nothing had been read: the body read so far, then whatever the client sends."""
    given = False

    async def replayed() -> ReceiveMessage:
        nonlocal given
        if not given:
            given = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=more)
        return await receive()

    return replayed


def _headers(answer: bytes, request_id: bytes) -> list[tuple[bytes, bytes]]:
    """The headers Litestar's route answers a check with, in its order."""
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer)).encode()),
        (HEADER, request_id),
    ]


def _with_id(scope: Scope, encoded: bytes) -> Any:
    """The scope with the request id this attempt logged under, so Litestar's answer carries it too."""
    headers = [(k, v) for k, v in scope["headers"] if k != HEADER]
    return {**scope, "headers": [*headers, (HEADER, encoded)]}
