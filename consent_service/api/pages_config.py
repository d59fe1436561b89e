"""What the public pages need from Litestar: templates, static files, CSRF and rate limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from consent_service.api import languages
from consent_service.api.context import context_of
from consent_service.api.security import PUBLIC
from consent_service.config import Organisation
from consent_service.domain.tokens import InvalidToken, LinkKind

HERE = Path(__file__).resolve().parent
#: Everything that is not a page for families: the API (keys, no cookies) and operations.
NOT_PAGES = [r"^/v1/", r"^/health/", r"^/docs", r"^/schema", r"^/static/", r"^/metrics"]


def templates(organisation: Organisation) -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with the i18n extension, so the families' pages come in the request's language. Every
    family page names the organisation, how to reach it and its privacy notice, and states the right
    to object (``base.html``); the words are set once, here, for every template."""
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    languages.install(environment)
    environment.globals["organisation"] = organisation
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def static_files() -> Router:
    return create_static_files_router(path="/static", directories=[HERE / "static"], opt=PUBLIC)


def csrf(secret: bytes, secure: bool) -> DefineMiddleware:
    """Double-submit cookie for the preferences form only, on its own routes: the API uses keys, the
    one-click unsubscribe must work with no cookie at all (RFC 8058), and the staff pages have their
    own (``staff_config.csrf``). On the preferences routes alone rather than app-wide (Litestar's
    ``csrf_config``), where every request, the liveness probe's too, passed through it."""
    config = CSRFConfig(
        secret=secret.hex(),
        cookie_path="/preferences",
        cookie_secure=secure,
        cookie_httponly=True,
        cookie_samesite="strict",
    )
    return DefineMiddleware(CSRFMiddleware, config=config)


def _throttle(request: Request[Any, Any, Any]) -> bool:
    """A valid one-click unsubscribe is never turned away, however many arrive from one mail provider.

    Signed-in staff on a phone call are not throttled; only password guesses at sign-in are.
    """
    path = request.url.path
    if path == "/staff" or path.startswith("/staff/"):
        return request.method == "POST" and path == "/staff/sign-in"
    if request.method == "POST" and request.url.path.startswith("/unsubscribe/"):
        try:
            context_of(request.app).links.verify(
                request.url.path.removeprefix("/unsubscribe/"), LinkKind.UNSUBSCRIBE
            )
        except InvalidToken:
            return True
        return False
    return True


def rate_limit(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=NOT_PAGES,
        check_throttle_handler=_throttle,
        store="rate_limit",
    )
