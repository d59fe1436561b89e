"""The staff pages' phone-call writes beyond choices and restrictions (issue 16): add a person, add,
correct and remove their contact points, lift a suppression, and suppress an address not on record.

Same rules as ``staff.py``: signed in, CSRF-checked forms, each write through its services use case,
and a form that is wrong comes back with what was wrong and changes nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template

from consent_service.api import staff_phone_views as phone
from consent_service.api.controllers.staff import (
    _flash,
    _form,
    _not_found,
    _person_url,
    _refused,
    current_member,
)
from consent_service.api.dependencies import Ctx
from consent_service.api.security import PUBLIC
from consent_service.api.staff_config import SignedInMember, signed_in
from consent_service.api.staff_forms import FormErrors
from consent_service.api.staff_views import KIND_NAMES, contact_text
from consent_service.domain.errors import Conflict, InvalidInput, NotFound, ObjectionStands
from consent_service.domain.people import RecordedContact
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope
from consent_service.services import choices, people, suppressions
from consent_service.services.context import Context


def _messages(exc: InvalidInput) -> list[str]:
    return [error.message[:1].upper() + error.message[1:] + "." for error in exc.errors]


async def _contact_of(ctx: Context, person_id: str, contact_id: str) -> RecordedContact:
    person = await people.get(ctx, person_id)
    held = next((c for c in person.contacts if c.id == contact_id), None)
    if held is None:
        raise NotFound(f"no contact point {contact_id} for person {person_id}")
    return held


class StaffPhonePages(Controller):
    path = "/"
    opt = PUBLIC
    guards = [signed_in]
    dependencies = {"member": Provide(current_member, sync_to_thread=False)}

    @get("/people/new")
    async def new_person_page(self, member: SignedInMember) -> Template:
        return Template("staff/new_person.html", context={"member": member, "form": {}, "errors": []})

    @post("/people")
    async def add_person(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember
    ) -> Response[Any]:
        form = await _form(request)
        try:
            person = await choices.create_person(ctx, phone.read_new_person(form))
        except FormErrors as exc:
            messages = exc.messages
        except InvalidInput as exc:
            messages = _messages(exc)
        except Conflict:
            messages = ["A person with that reference is on record already: find them by it."]
        else:
            _flash(request, "Added. Record their choices below.")
            return Redirect(_person_url(person.id), status_code=303)
        kept = {name: value for name, value in form.items() if isinstance(value, str)}
        return Template(
            "staff/new_person.html",
            context={"member": member, "form": kept, "errors": messages},
            status_code=422,
        )

    @post("/people/{person_id:uuid}/contacts")
    async def add_contact(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember, person_id: FromPath[UUID]
    ) -> Response[Any]:
        form = await _form(request)
        try:
            kind = phone.read_kind(form)
            contact = phone.read_contact(form, kind)
            await people.add_contact_point(ctx, people.AddContact(str(person_id), contact))
        except FormErrors as exc:
            return await _refused(ctx, member, str(person_id), exc.messages, form, "add-contact")
        except InvalidInput as exc:
            return await _refused(ctx, member, str(person_id), _messages(exc), form, "add-contact")
        except NotFound:
            return _not_found(member)
        _flash(request, f"{KIND_NAMES[kind]} added.")
        return Redirect(_person_url(str(person_id)), status_code=303)

    @post("/people/{person_id:uuid}/contacts/{contact_id:uuid}/correct")
    async def correct_contact(
        self,
        ctx: Ctx,
        request: Request[Any, Any, Any],
        member: SignedInMember,
        person_id: FromPath[UUID],
        contact_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await _form(request)
        try:
            held = await _contact_of(ctx, str(person_id), str(contact_id))
            contact = phone.read_contact(form, held.kind)
            await people.correct_contact_point(ctx, people.CorrectContact(held.person_id, held.id, contact))
        except FormErrors as exc:
            return await _refused(ctx, member, str(person_id), exc.messages, form, f"correct-{contact_id}")
        except InvalidInput as exc:
            return await _refused(ctx, member, str(person_id), _messages(exc), form, f"correct-{contact_id}")
        except NotFound:
            return _not_found(member)
        _flash(request, f"Corrected: {contact_text(held)} replaced.")
        return Redirect(_person_url(str(person_id)), status_code=303)

    @post("/people/{person_id:uuid}/contacts/{contact_id:uuid}/remove")
    async def remove_contact(
        self,
        ctx: Ctx,
        request: Request[Any, Any, Any],
        member: SignedInMember,
        person_id: FromPath[UUID],
        contact_id: FromPath[UUID],
    ) -> Response[Any]:
        try:
            held = await _contact_of(ctx, str(person_id), str(contact_id))
            await people.remove_contact_point(ctx, people.RemoveContact(held.person_id, held.id))
        except NotFound:
            return _not_found(member)
        _flash(request, f"Removed {contact_text(held)}. Any opt-out it had stays on the suppression list.")
        return Redirect(_person_url(str(person_id)), status_code=303)

    @post("/people/{person_id:uuid}/suppressions/{entry_id:uuid}/lift")
    async def lift_suppression(
        self,
        ctx: Ctx,
        request: Request[Any, Any, Any],
        member: SignedInMember,
        person_id: FromPath[UUID],
        entry_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await _form(request)
        try:
            reason = phone.read_lift_reason(form)
            person = await people.get(ctx, str(person_id))
            # Only an entry on one of this person's points is theirs to lift from their page.
            held = await suppressions.of_person(ctx, person)
            if not any(e.id == str(entry_id) for entries in held.values() for e in entries):
                raise NotFound(f"no suppression {entry_id} for person {person_id}")
            lift = suppressions.LiftSuppression(str(entry_id), reason, member.actor)
            await suppressions.lift_entry(ctx, lift)
        except FormErrors as exc:
            return await _refused(ctx, member, str(person_id), exc.messages, form, f"lift-{entry_id}")
        except ObjectionStands:
            _flash(request, phone.OBJECTION_STANDS)
            return Redirect(_person_url(str(person_id)), status_code=303)
        except Conflict:
            _flash(request, "That suppression was lifted already.")
            return Redirect(_person_url(str(person_id)), status_code=303)
        except NotFound:
            return _not_found(member)
        _flash(request, "Suppression lifted.")
        return Redirect(_person_url(str(person_id)), status_code=303)

    @post("/suppressions")
    async def suppress(self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember) -> Template:
        """An address the service does not hold, suppressed on the caller's word (a family asking us to
        stop, whose details we never had): kept by fingerprint only, with who added it and how they
        asked, as codes (no free text is kept on the list)."""
        form = await _form(request)
        try:
            wanted = phone.read_suppress(form)
            entry = await suppressions.suppress(
                ctx,
                suppressions.SuppressionInput(
                    wanted.to,
                    wanted.channel,
                    SuppressionScope.MARKETING,
                    SuppressionReason.STAFF_REQUEST,
                    member.actor,
                    how=wanted.how,
                ),
            )
        except FormErrors as exc:
            messages = exc.messages
        except InvalidInput as exc:
            messages = ["That is not a valid email address or phone number."] if exc.errors else []
        else:
            context = {
                "member": member,
                "to": wanted.to,
                "entry": entry,
                "how": phone.HOW_NAMES.get(entry.how) if entry.how else None,
                "channels": phone.SUPPRESS_CHANNELS,
            }
            return Template("staff/suppressed.html", context=context)
        kept = {name: value for name, value in form.items() if isinstance(value, str)}
        context = {
            "member": member,
            "query": kept.get("to", ""),
            "results": [],
            "suppress": kept,
            "suppress_errors": messages,
            "channels": phone.SUPPRESS_CHANNELS,
            "ways": phone.HOW_NAMES,
        }
        return Template("staff/search.html", context=context, status_code=422)
