"""What only a lead does from the staff pages (issue 16): manage staff accounts, read the audit trail,
erase a person, export everything held on them for a subject access request.

Every route here sits behind ``signed_in`` then ``lead_only``: a plain staff member is answered 403 with
a page that says why, and nothing changes. A new or reset password is made here, shown once on the page
that answers the form, and never stored anywhere but as its hash.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from consent_service.api import staff_forms as forms
from consent_service.api import staff_views as views
from consent_service.api.controllers.rights import export_document
from consent_service.api.dependencies import Ctx, Organisation
from consent_service.api.presenters import export_text
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
from consent_service.domain.access import UnderLegalHold
from consent_service.domain.errors import Conflict, InvalidInput, NotFound
from consent_service.domain.staff import AuditAction, AuditEntry, Role
from consent_service.services import people, rights, staff
from consent_service.services.context import Context

#: What each action is called on the audit page.
ACTION_NAMES = {
    AuditAction.SIGNED_IN: "Signed in",
    AuditAction.SIGN_IN_FAILED: "Sign-in failed",
    AuditAction.SIGNED_OUT: "Signed out",
    AuditAction.ACCOUNT_CREATED: "Account created",
    AuditAction.ACCOUNT_DISABLED: "Account disabled",
    AuditAction.PASSWORD_RESET: "Password reset",
    AuditAction.ROLE_CHANGED: "Role changed",
}
ROLE_NAMES = {Role.STAFF: "Staff", Role.LEAD: "Lead"}
NO_STORE = {"Cache-Control": "no-store"}
#: A username is part of the account's links on the page, so it is kept to characters a path holds as is.
_USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")


def not_a_lead(request: Request[Any, Any, Any], _: NotALead) -> Response[Any]:
    return Template("staff/forbidden.html", context={"member": signed_in_member(request)}, status_code=403)


def _member(request: Request[Any, Any, Any]) -> StaffMember:
    member = signed_in_member(request)
    if member is None:
        raise NotSignedIn
    return member


def _role(form: FormMultiDict) -> Role | None:
    raw = forms.text(form, "role")
    return next((role for role in Role if role.value == raw), None)


def _audit_row(entry: AuditEntry) -> dict[str, str]:
    return {
        "when": views.when(entry.at),
        "action": ACTION_NAMES.get(entry.action, entry.action.value),
        "actor": entry.actor or "",
        # A failed sign-in for a name that is no account keeps no name at all (least data).
        "subject": entry.subject or ("no such account" if entry.action is AuditAction.SIGN_IN_FAILED else ""),
        "detail": entry.detail or "",
    }


async def _accounts_page(ctx: Context, member: StaffMember, status_code: int = 200, **extra: Any) -> Template:
    context = {
        "member": member,
        "accounts": await staff.accounts(ctx),
        "roles": ROLE_NAMES,
        "errors": [],
        "form": {},
        "message": None,
        "password": None,
        **extra,
    }
    return Template("staff/accounts.html", context=context, status_code=status_code, headers=NO_STORE)


class LeadPages(Controller):
    path = "/"
    opt = PUBLIC
    guards = [signed_in, lead_only]
    dependencies = {"member": Provide(_member, sync_to_thread=False)}

    @get("/accounts")
    async def accounts(self, ctx: Ctx, member: SignedInMember) -> Template:
        return await _accounts_page(ctx, member)

    @post("/accounts")
    async def create(self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember) -> Template:
        form = await request.form()
        username, display_name, role = (
            forms.text(form, "username", 100),
            forms.text(form, "name"),
            _role(form),
        )
        errors = []
        if not _USERNAME.fullmatch(username):
            errors.append("Give a username of at most 100 letters, digits, dots, dashes or @.")
        if not display_name or len(display_name) > forms.SHORT_LIMIT:
            errors.append(f"Give the name shown on their records, at most {forms.SHORT_LIMIT} characters.")
        if role is None:
            errors.append("Choose a role.")
        kept = {"username": username, "name": display_name, "role": forms.text(form, "role")}
        if errors or role is None:
            return await _accounts_page(ctx, member, 422, errors=errors, form=kept)
        password = staff.one_time_password()
        try:
            account = await staff.create_account(ctx, username, display_name, password, role, member.actor)
        except (Conflict, InvalidInput) as exc:
            return await _accounts_page(ctx, member, 422, errors=[_sentence(exc)], form=kept)
        return await _accounts_page(
            ctx,
            member,
            message=f"Account {account.username} made ({ROLE_NAMES[account.role].lower()}).",
            password=(account.username, password),
        )

    @post("/accounts/{username:str}/role")
    async def change_role(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember, username: FromPath[str]
    ) -> Template:
        role = _role(await request.form())
        if role is None:
            return await _accounts_page(ctx, member, 422, errors=["Choose a role."])
        try:
            changed = await staff.change_role(ctx, username, role, member.actor)
        except (Conflict, NotFound) as exc:
            return await _accounts_page(ctx, member, 409, errors=[_sentence(exc)])
        said = "is now" if changed else "was already"
        return await _accounts_page(ctx, member, message=f"{username} {said} {ROLE_NAMES[role].lower()}.")

    @post("/accounts/{username:str}/password")
    async def reset_password(self, ctx: Ctx, member: SignedInMember, username: FromPath[str]) -> Template:
        password = staff.one_time_password()
        try:
            await staff.reset_password(ctx, username, password, member.actor)
        except NotFound as exc:
            return await _accounts_page(ctx, member, 404, errors=[_sentence(exc)])
        return await _accounts_page(
            ctx, member, message=f"A new password for {username}.", password=(username, password)
        )

    @post("/accounts/{username:str}/disable")
    async def disable(self, ctx: Ctx, member: SignedInMember, username: FromPath[str]) -> Template:
        try:
            disabled = await staff.disable_account(ctx, username, member.actor)
        except Conflict as exc:
            return await _accounts_page(ctx, member, 409, errors=[_sentence(exc)])
        if not disabled:
            return await _accounts_page(ctx, member, 404, errors=[f"No enabled account {username}."])
        return await _accounts_page(
            ctx, member, message=f"{username} is disabled: they cannot sign in, and their sessions are ended."
        )

    @get("/audit")
    async def audit(self, ctx: Ctx, member: SignedInMember, before: FromQuery[int | None] = None) -> Template:
        entries = await staff.audit_trail(ctx, before)
        older = entries[-1].seq if len(entries) == staff.AUDIT_PAGE else None
        context = {"member": member, "entries": [_audit_row(e) for e in entries], "older": older}
        return Template("staff/audit.html", context=context, headers=NO_STORE)

    @get("/people/{person_id:uuid}/export")
    async def export(
        self,
        ctx: Ctx,
        organisation: Organisation,
        member: SignedInMember,
        person_id: FromPath[UUID],
        format: FromQuery[str] = "json",
    ) -> Response[Any]:
        try:
            body = await export_document(ctx, str(person_id), organisation)
        except NotFound:
            return Template("staff/not_found.html", context={"member": member}, status_code=404)
        text = format == "text"
        name = f"subject-access-{person_id}.{'txt' if text else 'json'}"
        headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
        if text:
            return Response(export_text(body), media_type="text/plain; charset=utf-8", headers=headers)
        return Response(body, headers=headers)

    @post("/people/{person_id:uuid}/erasure")
    async def erase(
        self, ctx: Ctx, request: Request[Any, Any, Any], member: SignedInMember, person_id: FromPath[UUID]
    ) -> Template:
        form = await request.form()
        reason = forms.long_text(form, "reason")
        errors = []
        if forms.text(form, "confirm") != "erase":
            errors.append("Tick the box to confirm: an erasure cannot be undone.")
        if not reason or len(reason) > forms.NOTE_LIMIT:
            errors.append(f"Give the reason for the erasure, at most {forms.NOTE_LIMIT} characters.")
        try:
            person = await people.get(ctx, str(person_id))
            if errors:
                return Template(
                    "staff/erase_refused.html",
                    context={"member": member, "person": person, "errors": errors},
                    status_code=422,
                )
            done = await rights.erase(ctx, rights.Erase(person.id, f"{member.actor}: {reason}"))
        except NotFound:
            return Template("staff/not_found.html", context={"member": member}, status_code=404)
        except UnderLegalHold as held:
            context = {"member": member, "person": person, "errors": [_sentence(held)]}
            return Template("staff/erase_refused.html", context=context, status_code=409)
        return Template("staff/erased.html", context={"member": member, "done": done})


def _sentence(exc: Conflict | InvalidInput | NotFound) -> str:
    detail = str(exc.detail)
    return detail[:1].upper() + detail[1:] + ("" if detail.endswith(".") else ".")
