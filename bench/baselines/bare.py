"""Baseline ``bare``: a Litestar app with no middleware and one route, ``GET /json``.

What the framework and the server cost on their own, the floor under every route of ours. The bench runs
it as ``granian --interface asgi --loop uvloop --workers 1 bare:app`` from this folder.
"""

from __future__ import annotations

from litestar import Litestar, get


@get("/json")
async def json_answer() -> dict[str, str]:
    return {"status": "ok", "service": "bare"}


app = Litestar(route_handlers=[json_answer])
