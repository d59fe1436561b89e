"""Liveness and readiness, for load balancers and orchestrators. No authentication."""

from __future__ import annotations

from litestar import Controller, Response, get

from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.security import PUBLIC
from consent_service.domain.errors import StoreUnavailable


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get("/live", opt=PUBLIC, summary="The process answers")
    async def live(self) -> s.Health:
        return s.Health(status="ok")

    @get("/ready", opt=PUBLIC, summary="The database answers")
    async def ready(self, ctx: Ctx) -> Response[s.Health]:
        try:
            await ctx.store.ping()
        except StoreUnavailable:
            return Response(s.Health(status="database unavailable"), status_code=503)
        return Response(s.Health(status="ok"))
