"""The suppression list: staff add and lift entries; mailing tools list and look them up."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.inputs import actor, contact_value, idempotent_write
from consent_service.api.security import needs
from consent_service.domain.channels import Channel
from consent_service.domain.errors import InvalidInput
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.domain.suppressions import LiftReason, SuppressionReason
from consent_service.services import suppressions


def _cursor_out(after: tuple[datetime, str] | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(f"{after[0].isoformat()}|{after[1]}".encode()).decode()


def _cursor_in(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, _, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), last_id
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput.one("query.cursor", "not a cursor this service gave out") from exc


class SuppressionController(Controller):
    path = "/v1/suppressions"
    tags = ["suppressions"]

    @post(
        "/",
        opt=needs(KeyScope.STAFF),
        status_code=201,
        summary="Add an address to the suppression list",
        description="A `purpose` the catalogue does not have does not refuse the entry (DESIGN §4.1): it is"
        ' added for every purpose in its scope, with `evidence_gaps: ["purpose"]`. The entry keeps codes'
        " only (`reason`, and `how` the request reached staff): a deprecated `note` is accepted, discarded"
        ' and stored nowhere, and the answer says so (`ignored: ["note"]`).',
    )
    async def add(
        self, ctx: Ctx, request: Request[ApiKey, Any, Any], data: JSONBody[s.SuppressionIn]
    ) -> Response[s.SuppressionOut]:
        entry = suppressions.SuppressionInput(
            to=contact_value(data.to),
            channel=None if data.channel == "all" else Channel(data.channel),
            scope=data.scope,
            reason=data.reason,
            actor=actor(request.user),
            purpose=data.purpose,
            how=data.how,
        )
        # Never refused for it (an opt-out is not refused for its paperwork), never passed on either.
        ignored: list[s.NotKept] = ["note"] if data.note is not None else []
        return await idempotent_write(
            ctx,
            request,
            data,
            suppressions.suppress,
            entry,
            lambda added: presenters.suppression(added, ignored),
        )

    @get(
        "/",
        opt=needs(KeyScope.CHECKS, KeyScope.STAFF),
        summary="List entries (fingerprints, never addresses)",
    )
    async def page(
        self,
        ctx: Ctx,
        channel: FromQuery[Channel | None] = None,
        reason: FromQuery[SuppressionReason | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> s.SuppressionsOut:
        entries, after = await suppressions.page(ctx, channel, reason, _cursor_in(cursor))
        return s.SuppressionsOut(
            items=[presenters.suppression(e) for e in entries], next_cursor=_cursor_out(after)
        )

    @get("/lookup", opt=needs(KeyScope.CHECKS, KeyScope.STAFF), summary="Entries for one address")
    async def lookup(
        self,
        ctx: Ctx,
        to: Annotated[str, QueryParameter(min_length=1, max_length=320)],
        channel: FromQuery[s.ChannelOrAll],
    ) -> s.SuppressionsOut:
        found = await suppressions.lookup(ctx, to, None if channel == "all" else Channel(channel))
        return s.SuppressionsOut(items=[presenters.suppression(e) for e in found])

    @delete(
        "/{entry_id:uuid}",
        opt=needs(KeyScope.STAFF),
        status_code=200,
        summary="Lift an entry, with a reason",
        description="The reason is a code: `confirmed_working` (a bounced address or number confirmed"
        " working) or `added_in_error`. An entry with reason `objected` is never lifted (UK GDPR"
        " Art 21(3)): the request is answered 409 `objection-stands` and the attempt is recorded in"
        " the change feed as `suppression.lift_refused`. Only the person's own new grant re-opens a"
        " purpose and channel.",
    )
    async def lift(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        entry_id: FromPath[UUID],
        data: JSONBody[s.SuppressionLiftIn],
    ) -> s.SuppressionOut:
        command = suppressions.LiftSuppression(str(entry_id), LiftReason(data.reason), actor(request.user))
        entry = await suppressions.lift_entry(ctx, command)
        return presenters.suppression(entry)
