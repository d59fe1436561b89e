"""Staff accounts: made on the command line, signed in to the phone-call page."""

from __future__ import annotations

import uuid

from consent_service.domain.errors import Conflict, InvalidInput
from consent_service.domain.staff import MIN_PASSWORD_LENGTH, StaffAccount
from consent_service.services.context import Context


async def create_account(ctx: Context, username: str, display_name: str, password: str) -> StaffAccount:
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
    )
    async with ctx.store.writing() as uow:
        if await uow.staff.by_username(account.username):
            raise Conflict(f"a staff account {account.username!r} exists")
        await uow.staff.add(account)
    return account


async def authenticate(ctx: Context, username: str, password: str) -> StaffAccount | None:
    async with ctx.store.reading() as uow:
        account = await uow.staff.by_username(username.strip().lower())
    usable = account is not None and account.disabled_at is None
    if ctx.passwords.matches(account.password_hash if usable and account else None, password):
        return account
    return None


async def disable_account(ctx: Context, username: str) -> bool:
    """Someone has left: they can no longer sign in, and the pages refuse the sessions they still hold."""
    async with ctx.store.writing() as uow:
        return await uow.staff.disable(username.strip().lower(), ctx.clock.now())


async def still_allowed(ctx: Context, username: str) -> bool:
    async with ctx.store.reading() as uow:
        account = await uow.staff.by_username(username)
    return account is not None and account.disabled_at is None
