"""People, their consents and history: registration forms write, staff read and write."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.inputs import actor, choices_input, idempotent_write, person_input
from consent_service.api.security import needs
from consent_service.domain.channels import ContactKind
from consent_service.domain.errors import InvalidInput
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.domain.ledger import Evidence, Source
from consent_service.services import choices, objections, people

#: What the OpenAPI document says about evidence on the two routes that record choices.
PAPERWORK = (
    "An opt-out (a withdrawn choice) is never refused for its paperwork (DESIGN §4.1): it is recorded,"
    " and each receipt event names what was missing in `evidence_gaps` (`evidence_complete: false`)."
    " A grant lacking the same evidence is refused with 422 naming each field, and nothing is recorded."
)


class RegistrationController(Controller):
    path = "/v1/registrations"
    tags = ["people"]

    @post(
        "/",
        opt=needs(KeyScope.FORMS, KeyScope.STAFF),
        summary="Record a registration form",
        description=PAPERWORK,
        status_code=201,
    )
    async def register(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        data: JSONBody[s.RegistrationIn],
    ) -> Response[s.RegistrationOut]:
        command = choices.Register(person_input(data.person), choices_input(data, request.user))
        return await idempotent_write(ctx, request, data, choices.register, command, presenters.registration)


class PeopleController(Controller):
    path = "/v1/people"
    tags = ["people"]

    @post("/", opt=needs(KeyScope.FORMS, KeyScope.STAFF), summary="Create a person", status_code=201)
    async def create(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        data: JSONBody[s.PersonIn],
    ) -> Response[s.PersonOut]:
        return await idempotent_write(
            ctx, request, data, choices.create_person, person_input(data), presenters.person
        )

    @get("/", opt=needs(KeyScope.STAFF), summary="Find people by email, phone or reference")
    async def find(
        self,
        ctx: Ctx,
        email: Annotated[str | None, QueryParameter(max_length=320)] = None,
        phone: Annotated[str | None, QueryParameter(max_length=64)] = None,
        reference: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> s.PeopleOut:
        given = [(k, v) for k, v in (("email", email), ("phone", phone), ("reference", reference)) if v]
        if len(given) != 1:
            raise InvalidInput.one("query", "give exactly one of email, phone or reference")
        name, value = given[0]
        if name == "reference":
            found = await people.find(ctx, None, None, value)
        else:
            found = await people.find(ctx, ContactKind(name), value, None)
        return s.PeopleOut(items=[presenters.person(p) for p in found])

    @get("/{person_id:uuid}", opt=needs(KeyScope.STAFF), summary="A person with contacts and current choices")
    async def read(self, ctx: Ctx, person_id: FromPath[UUID]) -> s.PersonOut:
        person = await people.get(ctx, str(person_id))
        states = await people.choices(ctx, person.id)
        return presenters.person(person, [presenters.choice_state(ctx.catalogue, st) for st in states])

    @patch(
        "/{person_id:uuid}",
        opt=needs(KeyScope.STAFF),
        summary="Rectify a person's reference, household or name",
    )
    async def rectify(
        self, ctx: Ctx, person_id: FromPath[UUID], data: JSONBody[s.PersonChangeIn]
    ) -> s.PersonOut:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        person = await people.rectify(ctx, people.Rectify(str(person_id), changes))
        return presenters.person(person)

    @post(
        "/{person_id:uuid}/consents",
        opt=needs(KeyScope.FORMS, KeyScope.STAFF),
        summary="Record choices for a person",
        description=PAPERWORK,
        status_code=201,
    )
    async def record(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        data: JSONBody[s.ConsentsIn],
    ) -> Response[s.ConsentsOut]:
        command = choices.RecordChoices(str(person_id), choices_input(data, request.user))
        return await idempotent_write(
            ctx, request, data, choices.record_choices, command, presenters.consents
        )

    @post(
        "/{person_id:uuid}/objection",
        opt=needs(KeyScope.FORMS, KeyScope.STAFF),
        summary="The person objects to all direct marketing",
        description="Every marketing purpose on every channel, post included, at once (UK GDPR Art 21(2)):"
        " each is withdrawn in the ledger, and each of the person's contact points is put on the"
        " suppression list for every channel and marketing purpose with reason `objected`. No key or staff"
        " member can lift such an entry (`DELETE /v1/suppressions/{id}` answers 409 `objection-stands`);"
        " only the person's own later grant, with its notice, re-opens the one purpose and channel granted."
        " Never refused for its paperwork: " + PAPERWORK,
        status_code=201,
    )
    async def object_to_marketing(
        self,
        ctx: Ctx,
        request: Request[ApiKey, Any, Any],
        person_id: FromPath[UUID],
        data: JSONBody[s.ObjectionIn],
    ) -> Response[s.ObjectionOut]:
        command = objections.ObjectToMarketing(
            str(person_id),
            Source(data.source),
            actor(request.user),
            data.effective_at,
            Evidence(**msgspec.structs.asdict(data.evidence)) if data.evidence else Evidence(),
        )
        return await idempotent_write(
            ctx, request, data, objections.object_to_marketing, command, presenters.objection
        )

    @get(
        "/{person_id:uuid}/consents", opt=needs(KeyScope.STAFF), summary="Current (or past, with at=) choices"
    )
    async def consents(
        self, ctx: Ctx, person_id: FromPath[UUID], at: FromQuery[datetime | None] = None
    ) -> s.ChoiceStatesOut:
        if at is not None and at.tzinfo is None:
            raise InvalidInput.one("query.at", "give a time zone, e.g. 2026-01-31T12:00:00Z")
        states = await people.choices(ctx, str(person_id), at)
        return s.ChoiceStatesOut(items=[presenters.choice_state(ctx.catalogue, st) for st in states])

    @get("/{person_id:uuid}/history", opt=needs(KeyScope.STAFF), summary="Every recorded event, oldest first")
    async def history(self, ctx: Ctx, person_id: FromPath[UUID]) -> s.HistoryOut:
        events = await people.history(ctx, str(person_id))
        return s.HistoryOut(items=[presenters.event(ctx.catalogue, e) for e in events])

    @get(
        "/{person_id:uuid}/events/{event_id:uuid}",
        opt=needs(KeyScope.STAFF, KeyScope.ADMIN),
        summary="One event's full evidence: who, when, how, the notice and its text hash, the basis",
        description=(
            "Everything that shows this choice was made (LEGAL #1): who recorded it and which staff member"
            " took it, when the person made it and when it was recorded (UTC), the source, form id and"
            " collection context, the notice version with its language and the SHA-256 of its text, the"
            " lawful basis as it stood when recorded (`null`: not recorded at the time — events from"
            " before the basis was kept), what the paperwork lacked, and the event's place in the hash"
            " chain. 404 for an unknown event or one belonging to someone else."
        ),
    )
    async def event(
        self, ctx: Ctx, person_id: FromPath[UUID], event_id: FromPath[UUID]
    ) -> s.EventEvidenceOut:
        await ctx.catalogue.reload()
        found = await people.event(ctx, str(person_id), str(event_id))
        return presenters.event_evidence(ctx.catalogue, found)
