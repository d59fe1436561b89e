"""Authentication by API key and one declared scope requirement per route (DESIGN §4.7).

Every route says what it needs in its ``opt``: ``needs(KeyScope.X, ...)`` (any one of them suffices) or
``PUBLIC``. The guard denies a route that declares nothing, so a forgotten declaration fails closed.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from consent_service.api.context import context_of
from consent_service.domain.keys import ApiKey, KeyScope

SCOPES_OPT = "scopes"
PUBLIC_OPT = "public"
PUBLIC: dict[str, Any] = {PUBLIC_OPT: True}


def needs(*scopes: KeyScope) -> dict[str, Any]:
    return {SCOPES_OPT: frozenset(scopes)}


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise NotAuthorizedException("An API key is needed: Authorization: Bearer <key>")
        key = await context_of(connection.app).key_ring.recognise(secret.strip())
        if key is None:
            raise NotAuthorizedException("The API key is not recognised")
        return AuthenticationResult(user=key, auth=secret)


def authentication() -> DefineMiddleware:
    return DefineMiddleware(
        ApiKeyAuthentication, exclude_from_auth_key=PUBLIC_OPT, exclude=["^/schema", "^/docs"]
    )


def may_use(key: ApiKey, required: frozenset[KeyScope] | None) -> bool:
    """Whether the key holds one of the scopes a route needs; a route that declares none admits no key."""
    return bool(required and key.scopes & required)


async def scope_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Async although it awaits nothing: Litestar would otherwise run it in a thread on every request."""
    if handler.opt.get(PUBLIC_OPT) or connection.url.path.startswith(("/schema", "/docs")):
        return
    if connection.scope.get("method") == "OPTIONS":
        return  # Litestar's own answer: the Allow header, nothing to protect
    if "user" not in connection.scope:
        # Methods the authentication middleware does not look at (HEAD) get no key, so no access.
        raise NotAuthorizedException("An API key is needed: Authorization: Bearer <key>")
    required: frozenset[KeyScope] | None = handler.opt.get(SCOPES_OPT)
    if not may_use(connection.user, required):
        wanted = " or ".join(sorted(required or ())) or "(undeclared)"
        raise PermissionDeniedException(f"This route needs a key with scope {wanted}")
