"""The staff page for phone calls (issue 4): sign in, find a family, see and change their choices.

Server-rendered HTML that works without JavaScript. The routes are public to the API-key middleware
(``opt=PUBLIC``) and make their own check instead: the ``signed_in`` guard on every page but sign-in.
A page asked for without a session redirects to sign-in; a form posted without one is refused (401)
and changes nothing. Every form carries a CSRF token; every change names the signed-in staff member.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from consent_service.api import staff_config
from consent_service.api import staff_forms as forms
from consent_service.api import staff_phone_views as phone
from consent_service.api import staff_views as views
from consent_service.api.controllers import staff_lead
from consent_service.api.controllers.pages import SECURITY_HEADERS
from consent_service.api.dependencies import Ctx
from consent_service.api.security import PUBLIC
from consent_service.api.staff_config import (
    NotALead,
    NotSignedIn,
    SignedInMember,
    StaffMember,
    lead_only,
    signed_in,
    signed_in_member,
)
from consent_service.config import Settings
from consent_service.domain.channels import ContactKind
from consent_service.domain.errors import Conflict, InvalidInput, NotFound
from consent_service.domain.ledger import Evidence
from consent_service.domain.people import Person
from consent_service.services import choices, people, restrictions, rights, staff, suppressions
from consent_service.services.context import Context

HOME = "/staff"
SIGN_IN = "/staff/sign-in"
NO_MATCH = "Those details did not match. Check them and try again."
_HEADERS = {header.name: str(header.value) for header in SECURITY_HEADERS}


def _person_url(person_id: str) -> str:
    return f"{HOME}/people/{person_id}"


def not_signed_in(request: Request[Any, Any, Any], _: NotSignedIn) -> Response[Any]:
    """A page sends the visitor to sign in; a form posted with no session is refused outright."""
    if request.method in ("GET", "HEAD"):
        return Redirect(SIGN_IN, status_code=303, headers=_HEADERS)
    return Template("staff/signed_out.html", status_code=401, headers=_HEADERS)


def current_member(request: Request[Any, Any, Any]) -> StaffMember:
    member = signed_in_member(request)
    if member is None:
        raise NotSignedIn
    return member


async def _form(request: Request[Any, Any, Any]) -> FormMultiDict:
    return await request.form()


def _flash(request: Request[Any, Any, Any], message: str) -> None:
    request.set_session({**request.session, "flash": message})


def _take_flash(request: Request[Any, Any, Any]) -> str | None:
    session = dict(request.session)
    message = session.pop("flash", None)
    if message is not None:
        request.set_session(session)
    return message if isinstance(message, str) else None


class StaffSignIn(Controller):
    path = "/"
    opt = PUBLIC

    @get("/sign-in")
    async def sign_in_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        if signed_in_member(request) is not None:
            return Redirect(HOME, status_code=303)
        request.clear_session()
        return Template("staff/sign_in.html", context={"username": ""})

    @post("/sign-in")
    async def sign_in(self, ctx: Ctx, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await _form(request)
        username = forms.text(form, "username", 100)
        password = form.get("password", "")
        account = None
        if isinstance(password, str) and username and 0 < len(password) <= 1024:
            account = await staff.authenticate(ctx, username, password)
        if account is None:
            request.clear_session()
            return Template(
                "staff/sign_in.html", context={"username": username, "error": NO_MATCH}, status_code=401
            )
        await staff_config.start_session(
            request, StaffMember(account.id, account.username, account.display_name)
        )
        return Redirect(HOME, status_code=303)

    @post("/sign-out")
    async def sign_out(self, ctx: Ctx, request: Request[Any, Any, Any]) -> Redirect:
        member = signed_in_member(request)
        if member is not None:
            await staff.signed_out(ctx, member.username)
        staff_config.end_session(request)
        return Redirect(SIGN_IN, status_code=303)


class StaffPages(Controller):
    path = "/"
    opt = PUBLIC
    guards = [signed_in]
    dependencies = {"member": Provide(current_member, sync_to_thread=False)}

    @get("/")
    async def search(self, ctx: Ctx, member: SignedInMember, q: FromQuery[str] = "") -> Template:
        query = " ".join(q.split())
        context: dict[str, Any] = {
            "member": member,
            "query": query,
            "results": None,
            "suppress": {"to": query} if "@" in query or forms.looks_like_phone(query) else None,
            "channels": phone.SUPPRESS_CHANNELS,
            "ways": phone.HOW_NAMES,
            "search_limit": people.SEARCH_LIMIT,
        }
        if query:
            if len(query) > forms.QUERY_LIMIT:
                context["error"] = "That search is too long."
            else:
                try:
                    context["results"] = await _find(ctx, query)
                except InvalidInput as exc:
                    context["error"] = _search_error(exc)
        return Template("staff/search.html", context=context)

    @get("/people/{person_id:uuid}")
    async def person(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember, person_id: FromPath[UUID]
    ) -> Template:
        try:
            return await _person_page(ctx, member, str(person_id), flash=_take_flash(request))
        except NotFound:
            return _not_found(member)

    @post("/people/{person_id:uuid}/choices")
    async def change_choices(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember, person_id: FromPath[UUID]
    ) -> Response[Any]:
        form = await _form(request)
        try:
            change = forms.read_choice_change(form, ctx.catalogue)
            request_ = choices.ChoicesInput(
                change.choices,
                change.source,
                member.actor,
                effective_at=phone.read_said_on(form, ctx.clock.now().date()),
                evidence=Evidence(
                    staff_member=member.display_name, on_behalf_of=change.on_behalf_of, note=change.note
                ),
            )
            done = await choices.record_choices(ctx, choices.RecordChoices(str(person_id), request_))
        except forms.FormErrors as exc:
            return await _refused(ctx, member, str(person_id), exc.messages, form, "choices")
        except InvalidInput as exc:
            messages = [error.message for error in exc.errors]
            return await _refused(ctx, member, str(person_id), messages, form, "choices")
        except NotFound:
            return _not_found(member)
        count = len(done.events)
        how = views.STAFF_SOURCES[change.source].lower()
        saved = f"Saved: {count} change{'s' if count != 1 else ''} recorded from a {how}."
        _flash(request, saved + phone.saved_caveats(done.events, await people.choices(ctx, str(person_id))))
        return Redirect(_person_url(str(person_id)), status_code=303)

    @post("/people/{person_id:uuid}/restrictions")
    async def add_restriction(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember, person_id: FromPath[UUID]
    ) -> Response[Any]:
        form = await _form(request)
        try:
            person = await people.get(ctx, str(person_id))
            wanted = forms.read_restriction(form, person)
            await restrictions.restrict(
                ctx, restrictions.Restrict(person.id, wanted.channel, wanted.to, wanted.reason, member.actor)
            )
        except forms.FormErrors as exc:
            return await _refused(ctx, member, str(person_id), exc.messages, form, "restriction")
        except InvalidInput as exc:
            messages = [error.message for error in exc.errors]
            return await _refused(ctx, member, str(person_id), messages, form, "restriction")
        except NotFound:
            return _not_found(member)
        channel = views.CHANNEL_NAMES[wanted.channel].lower() if wanted.channel else "any channel"
        _flash(request, f"Restriction added: no contact by {channel} until it is lifted.")
        return Redirect(_person_url(str(person_id)), status_code=303)

    @post("/people/{person_id:uuid}/restrictions/{restriction_id:uuid}/lift", guards=[lead_only])
    async def lift_restriction(
        self,
        ctx: Ctx,
        request: Request[Any, Any, Any],
        member: SignedInMember,
        person_id: FromPath[UUID],
        restriction_id: FromPath[UUID],
    ) -> Response[Any]:
        form = await _form(request)
        try:
            reason = forms.read_lift_reason(form)
            await restrictions.lift(
                ctx, restrictions.LiftRestriction(str(person_id), str(restriction_id), reason, member.actor)
            )
        except forms.FormErrors as exc:
            return await _refused(ctx, member, str(person_id), exc.messages, form, "lift")
        except Conflict:
            _flash(request, "That restriction was lifted already.")
            return Redirect(_person_url(str(person_id)), status_code=303)
        except NotFound:
            return _not_found(member)
        _flash(request, "Restriction lifted.")
        return Redirect(_person_url(str(person_id)), status_code=303)


async def _find(ctx: Context, query: str) -> list[Person]:
    """An ``@`` means an email; digits (with spaces or a +) a phone number, else a reference; the rest a
    reference, else a UK postcode, else a name."""
    if "@" in query:
        return await people.find(ctx, ContactKind.EMAIL, query, None)
    if forms.looks_like_phone(query):
        try:
            found = await people.find(ctx, ContactKind.PHONE, query, None)
        except InvalidInput:
            found = []
        return found or await people.find(ctx, None, None, query)
    found = await people.find(ctx, None, None, query)
    if not found and forms.looks_like_postcode(query):
        found = await people.search_by_postcode(ctx, query)
    return found or await people.search_by_name(ctx, query)


def _search_error(exc: InvalidInput) -> str:
    field = exc.errors[0].field if exc.errors else ""
    if field == "email":
        return "That is not a valid email address."
    if field == "name":
        return "Give at least two letters of the name."
    return "That search could not be understood."


def _not_found(member: StaffMember) -> Template:
    return Template("staff/not_found.html", context={"member": member}, status_code=404)


async def _person_page(
    ctx: Context, member: StaffMember, person_id: str, status_code: int = 200, **extra: Any
) -> Template:
    person = await people.get(ctx, person_id)
    states = await people.choices(ctx, person_id)
    events = await people.history(ctx, person_id)
    held = await restrictions.of_person(ctx, person_id)
    rows = views.restriction_rows(held, person)
    effective = await phone.effective_rows(ctx, person)
    entries = phone.suppression_rows(person, await suppressions.of_person(ctx, person))
    context = {
        "member": member,
        "person": person,
        "contacts": views.contact_rows(person),
        "choices": phone.with_effect(views.choice_rows(states, ctx.catalogue), effective),
        "effective": effective,
        "held": phone.contact_choices(person),
        "kinds": views.KIND_NAMES,
        "suppressions": [e for e in entries if e.in_force],
        "lifted_suppressions": [e for e in entries if not e.in_force],
        "objection_stands": phone.OBJECTION_STANDS,
        "lift_choices": phone.LIFT_CHOICES,
        "groups": views.change_groups(states, ctx.catalogue),
        "sources": views.STAFF_SOURCES,
        "agreed_by": views.AGREED_BY,
        "channels": views.CHANNEL_NAMES,
        "history": views.history_rows(events),
        "in_force": [r for r in rows if r.in_force],
        "lifted": [r for r in rows if not r.in_force],
        "erased_before": await rights.erased_before(ctx, person),
        "form": {},
        "errors": [],
        "failed": None,
        "flash": None,
        **extra,
    }
    return Template("staff/person.html", context=context, status_code=status_code)


async def _refused(
    ctx: Context, member: StaffMember, person_id: str, messages: list[str], form: FormMultiDict, which: str
) -> Response[Any]:
    """The person page again, with what was wrong and what was typed; nothing was written."""
    try:
        kept = {name: value for name, value in form.items() if isinstance(value, str)}
        return await _person_page(
            ctx, member, person_id, status_code=422, errors=messages, form=kept, failed=which
        )
    except NotFound:
        return _not_found(member)


def router(settings: Settings) -> Router:
    """The staff pages under ``/staff``, with their session and CSRF middleware (on these routes only:
    the API and the families' pages never read or write a staff session)."""
    # Imported here: the phone-call handlers build on this module's page helpers.
    from consent_service.api.controllers.staff_phone import StaffPhonePages

    return Router(
        path=HOME,
        route_handlers=[StaffSignIn, StaffPages, StaffPhonePages, staff_lead.LeadPages],
        middleware=[staff_config.session_config(settings).middleware, staff_config.csrf(settings)],
        exception_handlers={NotSignedIn: not_signed_in, NotALead: staff_lead.not_a_lead},
        response_headers=SECURITY_HEADERS,
        opt=PUBLIC,
        include_in_schema=False,
    )
