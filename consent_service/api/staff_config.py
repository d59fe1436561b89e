"""What the staff pages need from Litestar: server-side sessions, their own CSRF cookie, who is signed in.

Sessions live in the store named ``sessions``: Redis when there is one, so a sign-in holds on every
worker of every machine; otherwise files under the data directory, shared by the workers of one
machine. The browser holds only a random session id. Both cookies (session and CSRF) are scoped to
``/staff``, HTTP-only, ``SameSite=Strict``, and ``Secure`` when the service is served over HTTPS.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, TypeAlias

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore

from consent_service.api.context import context_of
from consent_service.api.stores import FallbackStore
from consent_service.config import Settings
from consent_service.domain.staff import Role
from consent_service.services import staff

__all__ = [
    "SESSIONS_STORE",
    "NotALead",
    "NotSignedIn",
    "SignedInMember",
    "StaffMember",
    "csrf",
    "end_session",
    "lead_only",
    "session_config",
    "sessions_store",
    "signed_in",
    "signed_in_member",
    "start_session",
]

STAFF_PATH = "/staff"
SESSIONS_STORE = "sessions"
SESSION_COOKIE = "staff_session"
CSRF_COOKIE = "staff_csrf"
#: Signed out after an hour without a request: the page is for a call in progress, not left open all day.
IDLE_SECONDS = 60 * 60
#: Where a handler leaves the new session id it wants (at sign-in) for the session backend to use.
_FRESH_ID = "consent_service.staff.fresh_session_id"
#: Where the ``signed_in`` guard leaves the account's role as the database holds it on this request.
_ROLE = "consent_service.staff.role"


def _secure(settings: Settings) -> bool:
    return settings.links.public_base_url.startswith("https://")


def sessions_store(settings: Settings) -> Store:
    """Redis when configured (every worker, every machine); else files all workers on this machine share.

    With Redis down, sessions fall back to the files, so staff sign in again rather than see errors.
    """
    files = FileStore(settings.data_dir / "sessions", create_directories=True)
    if settings.redis_url:
        redis = RedisStore.with_client(
            url=settings.redis_url, namespace=f"consent:{settings.namespace}:sessions"
        )
        return FallbackStore(redis, files, "staff sessions")
    return files


class _RenewableSessions(ServerSideSessionBackend):
    """Server-side sessions that take a new id at sign-in, so an id planted before it is worth nothing."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        fresh = connection.scope.get("state", {}).get(_FRESH_ID)
        return fresh if isinstance(fresh, str) else super().get_session_id(connection)


class StaffSessionConfig(ServerSideSessionConfig):
    _backend_class = _RenewableSessions


def session_config(settings: Settings) -> ServerSideSessionConfig:
    return StaffSessionConfig(
        key=SESSION_COOKIE,
        store=SESSIONS_STORE,
        max_age=IDLE_SECONDS,
        path=STAFF_PATH,
        secure=_secure(settings),
        httponly=True,
        samesite="strict",
        scopes={ScopeType.HTTP},
    )


def csrf(settings: Settings) -> DefineMiddleware:
    """A double-submit CSRF cookie of the staff pages' own, on ``/staff``: the app-wide one lives on
    ``/preferences`` (a cookie has one path), so the app-wide middleware leaves ``/staff`` to this one."""
    secret = hashlib.sha256(b"staff-csrf:" + settings.links.signing_key).hexdigest()
    return DefineMiddleware(
        CSRFMiddleware,
        config=CSRFConfig(
            secret=secret,
            cookie_name=CSRF_COOKIE,
            cookie_path=STAFF_PATH,
            cookie_secure=_secure(settings),
            cookie_httponly=True,
            cookie_samesite="strict",
        ),
    )


@dataclass(frozen=True, slots=True)
class StaffMember:
    """Who is signed in, as the session remembers them."""

    staff_id: str
    username: str
    display_name: str
    #: Read from the account on every request (never from the session), so a role change holds at once.
    role: Role = Role.STAFF

    @property
    def is_lead(self) -> bool:
        return self.role is Role.LEAD

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    @classmethod
    def from_session(cls, session: object) -> StaffMember | None:
        if not isinstance(session, dict):
            return None
        values = (session.get("staff_id"), session.get("username"), session.get("display_name"))
        if not all(isinstance(value, str) and value for value in values):
            return None
        return cls(str(values[0]), str(values[1]), str(values[2]))


#: What a staff page handler is given: the member the session names (the guard has made sure of one).
SignedInMember: TypeAlias = NamedDependency[StaffMember]


class NotSignedIn(Exception):
    """No staff member is signed in on this request: a page sends them to sign in, a form is refused."""


class NotALead(Exception):
    """A signed-in staff member asked for what only a lead may do: answered 403, nothing changed."""


def signed_in_member(connection: ASGIConnection[Any, Any, Any, Any]) -> StaffMember | None:
    member = StaffMember.from_session(connection.scope.get("session"))
    role = connection.scope.get("state", {}).get(_ROLE)
    if member is not None and isinstance(role, Role):
        return StaffMember(member.staff_id, member.username, member.display_name, role)
    return member


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard on every staff page but sign-in. No session is written for a visitor who is not in.

    The account is looked up on every page (a staff page is a few requests a minute), so disabling
    someone ends the sessions they already hold.
    """
    member = signed_in_member(connection)
    account = await staff.enabled_account(context_of(connection.app), member.username) if member else None
    if account is None:
        connection.clear_session()
        raise NotSignedIn
    connection.state[_ROLE] = account.role


async def lead_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """After ``signed_in``: only a lead lifts a safeguarding restriction, erases, exports for a subject
    access request, manages accounts and reads the audit trail."""
    member = signed_in_member(connection)
    if member is None or not member.is_lead:
        raise NotALead


async def start_session(connection: ASGIConnection[Any, Any, Any, Any], member: StaffMember) -> None:
    """Sign in: forget any session the browser brought and hold the member under a new id."""
    old = connection.cookies.get(SESSION_COOKIE)
    if old and old != "null":
        await connection.app.stores.get(SESSIONS_STORE).delete(old)
    connection.state[_FRESH_ID] = secrets.token_hex(32)
    connection.set_session(
        {"staff_id": member.staff_id, "username": member.username, "display_name": member.display_name}
    )


def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Sign out: the session is deleted from the store and the cookie emptied."""
    connection.clear_session()
