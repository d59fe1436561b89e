"""Each request's id: taken from the caller's ``X-Request-ID`` or made, echoed, and put on every log line."""

from __future__ import annotations

import os
import random
import re

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.logs import request_id

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
HEADER = b"x-request-id"


def request_id_of(scope: Scope) -> tuple[str, bytes]:
    """The caller's ``X-Request-ID`` if it is a usable one, else a new one; as text and as bytes."""
    given = next((v for k, v in scope["headers"] if k == HEADER), None)
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given.decode("ascii"), given
    value = f"{_ids.getrandbits(128):032x}"
    return value, value.encode("ascii")


#: Where made request ids come from. An id only tells one request's log lines from another's, it
#: guards nothing, so a generator seeded from the operating system once per process will do: asking
#: the operating system for 16 bytes on every request (``os.urandom``, a system call) was a twelfth
#: of a liveness answer's time. Seeded again in a forked child, so no two workers make the same ids.
_ids = random.Random(os.urandom(32))  # noqa: S311 - an identifier, not a secret
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


class RequestIds:
    """Takes the caller's ``X-Request-ID`` (or makes one), echoes it, and puts it on every log line.

    Every answer pays for this, the liveness probe's too, so it does the least it can: the id is 128
    random bits in hex from a generator seeded once per process (``_ids``; 32 characters, as
    ``uuid4().hex`` would be) and the header is appended to the answer's own list, not set through a
    header mapping built for it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        value, encoded = request_id_of(scope)
        token = request_id.set(value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Nothing inside sets this header, so appending cannot make a second one.
                headers = message.setdefault("headers", [])
                if not isinstance(headers, list):
                    headers = message["headers"] = list(headers)
                headers.append((HEADER, encoded))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
