"""Liveness and readiness, for load balancers and orchestrators. No authentication."""

from __future__ import annotations

import asyncio
import logging

from litestar import Controller, Response, get

from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.security import PUBLIC
from consent_service.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)

READY_TIMEOUT = 2.0


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get("/live", opt=PUBLIC, summary="The process answers")
    async def live(self) -> s.Health:
        return s.Health(status="ok")

    @get("/ready", opt=PUBLIC, summary="The database answers and commits durably")
    async def ready(self, ctx: Ctx) -> Response[s.Health]:
        try:
            # A load balancer asks often and waits little: a hung database is "not ready" quickly.
            async with asyncio.timeout(READY_TIMEOUT):
                await ctx.store.ping()
                unsafe = await ctx.store.durability()
        except (StoreUnavailable, TimeoutError):
            return Response(s.Health(status="database unavailable"), status_code=503)
        if unsafe:
            # An opt-out acknowledged under these settings could vanish in a crash: take no traffic.
            log.error("not ready: the database runs with %s, which can lose commits", ", ".join(unsafe))
            return Response(
                s.Health(status=f"database not durable: {', '.join(unsafe)}"),
                status_code=503,
                headers={"Retry-After": "30"},
            )
        return Response(s.Health(status="ok"))
