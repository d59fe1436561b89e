"""People's rights and safeguarding: rectification, restrictions, subject access, receipts, erasure."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx, Organisation
from consent_service.api.inputs import actor, contact_value, idempotent_write
from consent_service.api.security import needs
from consent_service.domain.channels import Channel
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.domain.receipts import DataController
from consent_service.domain.restrictions import Restriction
from consent_service.services import people, restrictions, rights
from consent_service.services.context import Context
from consent_service.services.people import ChoiceState


def _restriction(r: Restriction, contact_ids: dict[str, str]) -> s.RestrictionOut:
    return s.RestrictionOut(
        id=r.id,
        person_id=r.person_id,
        channel=r.channel.value if r.channel else "all",
        contact_id=contact_ids.get(r.fingerprint) if r.fingerprint else None,
        reason=r.reason,
        created_by=r.created_by,
        created_at=r.created_at,
        lifted_at=r.lifted_at,
        lift_reason=r.lift_reason,
        lifted_by=r.lifted_by,
    )


def _restricted(done: restrictions.Restricted) -> s.RestrictionOut:
    r = done.restriction
    return _restriction(r, {r.fingerprint: done.contact_id} if r.fingerprint and done.contact_id else {})


async def export_document(ctx: Context, person_id: str, organisation: DataController) -> s.ExportOut:
    """Everything held on one person, as the API and the staff page (for a lead) both hand it out."""
    held = await rights.export(ctx, person_id, organisation)
    contact_ids = {c.fingerprint: c.id for c in held.person.contacts}
    await ctx.catalogue.reload()
    current = {(c.purpose, c.channel): c for c in held.current}
    states = [
        ChoiceState(p.code, ch, basis, current.get((p.code, ch)))
        for p in ctx.catalogue.catalogue
        for ch, basis in p.bases.items()
    ]
    return s.ExportOut(
        generated_at=held.generated_at,
        person=presenters.person(held.person),
        household_members=list(held.household_members),
        current_choices=[presenters.choice_state(ctx.catalogue, st) for st in states],
        events=[presenters.event(ctx.catalogue, e) for e in held.events],
        restrictions=[_restriction(r, contact_ids) for r in held.restrictions],
        suppressions=[
            s.HeldSuppressionOut(
                fingerprint=e.fingerprint,
                channel=e.channel.value if e.channel else "all",
                scope=e.scope,
                reason=e.reason,
                purpose=e.purpose,
                how=e.how,
                effective_at=e.effective_at,
                lifted_at=e.lifted_at,
                lift_reason=e.lift_reason,
            )
            for e in held.suppressions
        ],
        receipts=list(held.receipts),
        staff_changes=[
            s.StaffChangeOut(at=c.at, by=c.by, what=c.what, staff_member=c.staff_member) for c in held.changes
        ],
    )


class RightsController(Controller):
    path = "/v1/people/{person_id:uuid}"
    tags = ["people's rights"]

    @post(
        "/restrictions", opt=needs(KeyScope.STAFF), status_code=201, summary="Add a safeguarding restriction"
    )
    async def restrict(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        data: JSONBody[s.RestrictionIn],
    ) -> Response[s.RestrictionOut]:
        command = restrictions.Restrict(
            str(person_id),
            None if data.channel == "all" else Channel(data.channel),
            contact_value(data.to) if data.to is not None else None,
            data.reason,
            actor(request.user),
        )
        return await idempotent_write(ctx, request, data, restrictions.restrict, command, _restricted)

    @get("/restrictions", opt=needs(KeyScope.STAFF), summary="A person's restrictions, lifted ones too")
    async def list_restrictions(self, ctx: Ctx, person_id: FromPath[UUID]) -> s.RestrictionsOut:
        person = await people.get(ctx, str(person_id))
        ids = {c.fingerprint: c.id for c in person.contacts}
        found = await restrictions.of_person(ctx, person.id)
        return s.RestrictionsOut(items=[_restriction(r, ids) for r in found])

    @delete(
        "/restrictions/{restriction_id:uuid}",
        opt=needs(KeyScope.STAFF),
        status_code=200,
        summary="Lift a restriction, with a reason",
    )
    async def lift_restriction(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        restriction_id: FromPath[UUID],
        data: JSONBody[s.LiftIn],
    ) -> s.RestrictionOut:
        command = restrictions.LiftRestriction(
            str(person_id), str(restriction_id), data.reason, actor(request.user)
        )
        lifted = await restrictions.lift(ctx, command)
        return _restriction(lifted, {})

    @get("/export", opt=needs(KeyScope.ADMIN), summary="Everything held on the person (subject access)")
    async def export(
        self,
        ctx: Ctx,
        organisation: Organisation,
        person_id: FromPath[UUID],
        format: FromQuery[Literal["json", "text"]] = "json",
    ) -> Response[Any]:
        body = await export_document(ctx, str(person_id), organisation)
        if format == "text":
            return Response(presenters.export_text(body), media_type="text/plain; charset=utf-8")
        return Response(body)

    @get(
        "/receipts/{event_id:uuid}",
        opt=needs(KeyScope.FORMS, KeyScope.STAFF),
        summary="One recorded choice as a Kantara Consent Receipt v1.1",
    )
    async def receipt(
        self, ctx: Ctx, organisation: Organisation, person_id: FromPath[UUID], event_id: FromPath[UUID]
    ) -> dict[str, Any]:
        return await rights.receipt(ctx, organisation, str(person_id), str(event_id))

    @get(
        "/consent-record",
        opt=needs(KeyScope.STAFF, KeyScope.ADMIN),
        summary="The person's consent record in the ISO/IEC TS 27560 structure (JSON-LD, W3C DPV states)",
        media_type="application/ld+json",
    )
    async def consent_record(
        self,
        ctx: Ctx,
        organisation: Organisation,
        person_id: FromPath[UUID],
        format: FromQuery[Literal["iso27560"]] = "iso27560",
    ) -> Response[dict[str, Any]]:
        body = await rights.consent_record(ctx, organisation, str(person_id))
        return Response(body, media_type="application/ld+json")

    @post(
        "/erasure", opt=needs(KeyScope.ADMIN), status_code=200, summary="Erase the person, keeping tombstones"
    )
    async def erase(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        data: JSONBody[s.ErasureIn],
    ) -> s.ErasureOut:
        done = await rights.erase(ctx, rights.Erase(str(person_id), f"{actor(request.user)}: {data.reason}"))
        return s.ErasureOut(
            person_id=done.person_id,
            erased_at=done.erased_at,
            suppression_tombstones=done.tombstones,
            events_kept=done.events_kept,
        )
