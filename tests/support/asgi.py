"""httpx's transport to the app in this process, so a test calls it on the test's own event loop.

httpx types an ASGI app's scope and messages as plain mappings, Litestar as a TypedDict for each
kind of scope and message; both follow the same ASGI specification, so the app goes to httpx as a
callable that takes whatever httpx passes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from litestar import Litestar


def in_process(app: Litestar) -> httpx.ASGITransport:
    asgi: Callable[..., Coroutine[Any, Any, None]] = app
    return httpx.ASGITransport(app=asgi)
