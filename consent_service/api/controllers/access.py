"""Subject access requests tracked to their due date, and legal holds on a person's record."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.inputs import actor
from consent_service.api.security import needs
from consent_service.domain.access import AccessRequest, LegalHold
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.services import access
from consent_service.services.context import Context

STAFF_OR_ADMIN = needs(KeyScope.STAFF, KeyScope.ADMIN)


def _request(ctx: Context, r: AccessRequest) -> s.AccessRequestOut:
    return s.AccessRequestOut(
        id=r.id,
        person_id=r.person_id,
        received_on=r.received_on,
        due_on=r.due_on,
        overdue=r.overdue(ctx.clock.now().date()),
        recorded_by=r.recorded_by,
        recorded_at=r.recorded_at,
        answered_at=r.answered_at,
        answered_by=r.answered_by,
    )


def _hold(h: LegalHold) -> s.LegalHoldOut:
    return s.LegalHoldOut(
        id=h.id,
        person_id=h.person_id,
        reason=h.reason,
        placed_by=h.placed_by,
        placed_at=h.placed_at,
        released_at=h.released_at,
        released_by=h.released_by,
    )


class AccessController(Controller):
    path = "/v1"
    tags = ["people's rights"]

    @post(
        "/people/{person_id:uuid}/access-requests",
        opt=STAFF_OR_ADMIN,
        status_code=201,
        summary="Record a subject access request; it is due one calendar month from receipt",
    )
    async def record_request(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        data: JSONBody[s.AccessRequestIn],
    ) -> s.AccessRequestOut:
        command = access.RecordAccessRequest(str(person_id), data.received_on, actor(request.user))
        return _request(ctx, await access.record_request(ctx, command))

    @get(
        "/access-requests",
        opt=STAFF_OR_ADMIN,
        summary="Subject access requests by due date, overdue ones flagged",
    )
    async def list_requests(self, ctx: Ctx, open: FromQuery[bool] = True) -> s.AccessRequestsOut:
        return s.AccessRequestsOut(items=[_request(ctx, r) for r in await access.requests(ctx, open)])

    @post(
        "/access-requests/{request_id:uuid}/answered",
        opt=STAFF_OR_ADMIN,
        status_code=200,
        summary="Close a subject access request as answered",
    )
    async def answered(
        self, ctx: Ctx, request: Request[ApiKey, Any, Any], request_id: FromPath[UUID]
    ) -> s.AccessRequestOut:
        command = access.AnswerAccessRequest(str(request_id), actor(request.user))
        return _request(ctx, await access.answer_request(ctx, command))

    @post(
        "/people/{person_id:uuid}/legal-holds",
        opt=needs(KeyScope.ADMIN),
        status_code=201,
        summary="Place a legal hold: retention passes the person by and erasure is refused",
    )
    async def place_hold(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        data: JSONBody[s.LegalHoldIn],
    ) -> s.LegalHoldOut:
        command = access.PlaceHold(str(person_id), data.reason, actor(request.user))
        return _hold(await access.place_hold(ctx, command))

    @get("/people/{person_id:uuid}/legal-holds", opt=STAFF_OR_ADMIN, summary="The legal holds standing")
    async def list_holds(self, ctx: Ctx, person_id: FromPath[UUID]) -> s.LegalHoldsOut:
        return s.LegalHoldsOut(items=[_hold(h) for h in await access.holds(ctx, str(person_id))])

    @delete(
        "/people/{person_id:uuid}/legal-holds/{hold_id:uuid}",
        opt=needs(KeyScope.ADMIN),
        status_code=200,
        summary="Release a legal hold",
    )
    async def release_hold(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        hold_id: FromPath[UUID],
    ) -> s.LegalHoldOut:
        command = access.ReleaseHold(str(person_id), str(hold_id), actor(request.user))
        return _hold(await access.release_hold(ctx, command))
