"""Staff accounts: made on the command line or by a lead on the staff pages, signed in to the phone-call
page; and the audit trail every sign-in, failed sign-in, sign-out and account change is appended to."""

from __future__ import annotations

import secrets
import uuid

from consent_service.domain.errors import Conflict, InvalidInput, NotFound
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.staff import MIN_PASSWORD_LENGTH, AuditAction, AuditEntry, Role, StaffAccount
from consent_service.services.context import Context

#: Who acts when the command line does (it has the database already; it is the administrator).
COMMAND_LINE = "cli"
AUDIT_PAGE = 100


def _actor(username: str) -> str:
    return f"staff:{username}"


async def _audit(
    uow: UnitOfWork,
    ctx: Context,
    action: AuditAction,
    actor: str | None,
    subject: str | None,
    detail: str | None = None,
) -> None:
    await uow.staff.audit(AuditEntry(ctx.clock.now(), action, actor, subject, detail))


def one_time_password() -> str:
    """What a lead hands on when making an account or resetting one: 20 random URL-safe characters."""
    return secrets.token_urlsafe(15)


async def create_account(
    ctx: Context,
    username: str,
    display_name: str,
    password: str,
    role: Role = Role.STAFF,
    actor: str = COMMAND_LINE,
) -> StaffAccount:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.one("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    if not username.strip() or not display_name.strip():
        raise InvalidInput.one("username", "a username and a display name are needed")
    account = StaffAccount(
        str(uuid.uuid4()),
        username.strip().lower(),
        display_name.strip(),
        ctx.passwords.hash(password),
        ctx.clock.now(),
        role=role,
    )
    async with ctx.store.writing() as uow:
        if await uow.staff.by_username(account.username):
            raise Conflict(f"a staff account {account.username!r} exists")
        await uow.staff.add(account)
        await _audit(uow, ctx, AuditAction.ACCOUNT_CREATED, actor, account.username, f"role {role.value}")
    return account


async def authenticate(ctx: Context, username: str, password: str) -> StaffAccount | None:
    """The account, or None; either way the attempt is in the audit trail. A failure names the account
    only when one exists by that name (an unknown username may be someone's password typed in the wrong
    box), and never the password tried."""
    name = username.strip().lower()
    async with ctx.store.reading() as uow:
        account = await uow.staff.by_username(name)
    usable = account is not None and account.disabled_at is None
    matched = ctx.passwords.matches(account.password_hash if usable and account else None, password)
    async with ctx.store.writing() as uow:
        if matched and account is not None:
            await _audit(uow, ctx, AuditAction.SIGNED_IN, _actor(account.username), account.username)
        else:
            known = account.username if account is not None else None
            why = "account disabled" if account is not None and not usable else None
            await _audit(uow, ctx, AuditAction.SIGN_IN_FAILED, None, known, why)
    return account if matched else None


async def signed_out(ctx: Context, username: str) -> None:
    async with ctx.store.writing() as uow:
        await _audit(uow, ctx, AuditAction.SIGNED_OUT, _actor(username), username)


async def _enabled_leads(uow: UnitOfWork) -> list[StaffAccount]:
    return [a for a in await uow.staff.listed() if a.is_lead and a.disabled_at is None]


async def _refuse_last_lead(uow: UnitOfWork, username: str, what: str) -> None:
    """Someone must be left who can manage accounts from the pages."""
    leads = await _enabled_leads(uow)
    if [lead.username for lead in leads] == [username]:
        raise Conflict(f"{username!r} is the only lead left: make another lead before you {what}")


async def disable_account(ctx: Context, username: str, actor: str = COMMAND_LINE) -> bool:
    """Someone has left: they can no longer sign in, and the pages refuse the sessions they still hold."""
    name = username.strip().lower()
    async with ctx.store.writing() as uow:
        if actor != COMMAND_LINE:
            await _refuse_last_lead(uow, name, "disable this account")
        disabled = await uow.staff.disable(name, ctx.clock.now())
        if disabled:
            await _audit(uow, ctx, AuditAction.ACCOUNT_DISABLED, actor, name)
    return disabled


async def reset_password(ctx: Context, username: str, password: str, actor: str) -> None:
    """A new password for an enabled account; the sessions it holds stay (the person is the same)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.one("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    name = username.strip().lower()
    async with ctx.store.writing() as uow:
        if not await uow.staff.set_password(name, ctx.passwords.hash(password)):
            raise NotFound(f"no enabled staff account {name!r}")
        await _audit(uow, ctx, AuditAction.PASSWORD_RESET, actor, name)


async def change_role(ctx: Context, username: str, role: Role, actor: str) -> bool:
    """True when the role changed; False when the account had that role already."""
    name = username.strip().lower()
    async with ctx.store.writing() as uow:
        account = await uow.staff.by_username(name)
        if account is None:
            raise NotFound(f"no staff account {name!r}")
        if role is not Role.LEAD and account.disabled_at is None:
            await _refuse_last_lead(uow, name, "change this account's role")
        changed = await uow.staff.set_role(name, role)
        if changed:
            detail = f"{account.role.value} to {role.value}"
            await _audit(uow, ctx, AuditAction.ROLE_CHANGED, actor, name, detail)
    return changed


async def accounts(ctx: Context) -> list[StaffAccount]:
    async with ctx.store.reading() as uow:
        return await uow.staff.listed()


async def audit_trail(ctx: Context, before: int | None = None, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
    async with ctx.store.reading() as uow:
        return await uow.staff.trail(limit, before)


async def enabled_account(ctx: Context, username: str) -> StaffAccount | None:
    """The account as it is now (role included), or None when it is gone or disabled."""
    async with ctx.store.reading() as uow:
        account = await uow.staff.by_username(username)
    return account if account is not None and account.disabled_at is None else None


async def still_allowed(ctx: Context, username: str) -> bool:
    return await enabled_account(ctx, username) is not None
