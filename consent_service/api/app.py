"""The web app: ``create_app(settings)`` puts routes, middleware and pages around what bootstrap composes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.stores.base import Store as LitestarStore
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

from consent_service import __version__, bootstrap, logs
from consent_service.api import check_shortcut, contract, pages_config, problems, staff_config
from consent_service.api.context import attach
from consent_service.api.controllers.access import AccessController
from consent_service.api.controllers.catalogue import CatalogueController
from consent_service.api.controllers.changes import ChangeController, WebhookController
from consent_service.api.controllers.checks import CheckController
from consent_service.api.controllers.feedback import feedback_routes
from consent_service.api.controllers.health import HealthController
from consent_service.api.controllers.links import LinkController
from consent_service.api.controllers.metrics import PROMETHEUS, MetricsController
from consent_service.api.controllers.pages import PreferencePages, UnsubscribePages, accessibility_statement
from consent_service.api.controllers.people import PeopleController, RegistrationController
from consent_service.api.controllers.rights import RightsController
from consent_service.api.controllers.staff import router as staff_pages
from consent_service.api.controllers.suppressions import SuppressionController
from consent_service.api.inputs import strict_inputs
from consent_service.api.logs import RequestIds
from consent_service.api.proxies import client_behind_proxy
from consent_service.api.security import PUBLIC_OPT, ApiKeyAuthentication, authentication, scope_guard
from consent_service.api.stores import FallbackStore
from consent_service.config import Settings, SettingsError
from consent_service.services.context import Context

#: A bulk check of 10,000 postal addresses is the largest body a caller needs to send.
MAX_BODY_BYTES = 4 * 1024 * 1024


def local_stores(app: Litestar) -> list[MemoryStore | FileStore]:
    """The app's stores that keep entries on this host: in memory (rate limits without Redis, or while
    Redis is away) and in files (staff sessions without Redis)."""
    found: list[MemoryStore | FileStore] = []
    for name in ("rate_limit", staff_config.SESSIONS_STORE):
        store = app.stores.get(name)
        for candidate in (store, getattr(store, "fallback", None)):
            if isinstance(candidate, MemoryStore | FileStore):
                found.append(candidate)
    return found


async def sweep_expired(stores: list[MemoryStore | FileStore], every: float = 60.0) -> None:
    """Drops expired entries from the local stores every ``every`` seconds.

    Litestar's memory and file stores drop an expired entry only when the same key is read again, so
    a rate-limit counter for every client address that ever visited would stay in memory for the
    life of the worker: a public page seen by thousands of families grows the worker without bound.
    """
    while True:
        await asyncio.sleep(every)
        for store in stores:
            # Another worker may sweep the same session files at the same moment.
            with contextlib.suppress(OSError):
                await store.delete_expired()


async def shutdown(app: Litestar, ctx: Context) -> None:
    """Close what the app opened: its stores' Redis clients and the database pool."""
    for name in ("rate_limit", "sessions"):
        store = app.stores.get(name)
        if isinstance(store, RedisStore | FallbackStore):
            await store.__aexit__(None, None, None)
    await ctx.store.dispose()
    await ctx.key_ring.close()


def rate_limit_store(settings: Settings) -> LitestarStore:
    """Shared across workers through Redis when there is one; per process otherwise."""
    if settings.redis_url:
        redis = RedisStore.with_client(
            url=settings.redis_url, namespace=f"consent:{settings.namespace}:rate-limit"
        )
        return FallbackStore(redis, MemoryStore(), "rate limit")
    return MemoryStore()


async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The key's scope (``scope_guard``), then the inputs (``strict_inputs``), as one guard.

    One guard, not two, because Litestar hands each guard its own shallow copy of the route handler on
    every request (``BaseRouteHandler.authorize_connection``), about 10 µs a copy.
    """
    await scope_guard(connection, handler)
    await strict_inputs(connection, handler)


#: Load balancers' and orchestrators' probes: public, taking no input, neither counted nor rate
#: limited, so they stand outside ``guard`` (its handler copy was a quarter of a liveness answer's
#: time) and outside the middleware that would only look at them to let them by.
PROBES = [HealthController]


def only_probes_unguarded(app: Litestar) -> None:
    """Every route but the probes and the OpenAPI document passes ``guard`` and the authentication,
    metrics and rate-limit middleware, so a route that forgets to declare its scope still fails closed;
    a route added beside the probes by mistake stops the app."""
    for route in app.routes:
        for handler in route.route_handlers if isinstance(route, HTTPRoute) else [route.route_handler]:
            if _behind_the_guard(handler) or route.path.startswith(("/schema", "/docs")):
                continue
            if isinstance(handler, HTTPRouteHandler) and handler.http_methods == {"OPTIONS"}:
                continue  # Litestar's own answer, the Allow header, which ``scope_guard`` lets by too
            takes_input = bool(set(handler.parsed_fn_signature.parameters) - {"self", "ctx"})
            if not handler.opt.get(PUBLIC_OPT) or takes_input:
                raise RuntimeError(f"{route.path} is outside the guard but is not a public probe")


def _behind_the_guard(handler: BaseRouteHandler) -> bool:
    """Passes ``guard`` and the API key's authentication (which comes with the other middleware)."""
    middleware = {getattr(m, "middleware", None) for m in handler.resolve_middleware()}
    return guard in handler.resolve_guards() and ApiKeyAuthentication in middleware


def openapi_config(docs: bool = True) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="consent-service",
        version=__version__,
        description="Consents, communication preferences and a suppression list for family support.",
        path="/docs" if docs else "/schema",
        render_plugins=[ScalarRenderPlugin()],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="An API key")
            }
        ),
        security=[{"apiKey": []}],
    )


def create_app(settings: Settings, context: Context | None = None) -> Litestar:
    ctx = context or bootstrap.build_context(settings)
    relay = bootstrap.build_relay(settings, ctx)
    state, provide_context = attach(ctx)
    organisation = bootstrap.controller(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with bootstrap.serving(settings, ctx, relay):
            sweeping = asyncio.create_task(sweep_expired(local_stores(app)), name="expired store entries")
            try:
                yield
            finally:
                sweeping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeping
        await shutdown(app, ctx)

    config = AppConfig(
        route_handlers=[
            *PROBES,
            Router(
                path="/",
                guards=[guard],
                # Inside the app's own middleware (client address, request id), in this order.
                middleware=[
                    PROMETHEUS.middleware,
                    pages_config.rate_limit(settings.limits.public_rate_limit).middleware,
                    authentication(),
                ],
                route_handlers=[
                    RegistrationController,
                    PeopleController,
                    CheckController,
                    SuppressionController,
                    feedback_routes(bootstrap.feedback_keys(settings)),
                    CatalogueController,
                    LinkController,
                    RightsController,
                    AccessController,
                    ChangeController,
                    WebhookController,
                    MetricsController,
                    UnsubscribePages,
                    Router(
                        path="/",
                        middleware=[
                            pages_config.csrf(
                                hashlib.sha256(b"csrf:" + settings.links.signing_key).digest(),
                                secure=settings.links.public_base_url.startswith("https://"),
                            )
                        ],
                        route_handlers=[PreferencePages],
                    ),
                    accessibility_statement,
                    staff_pages(settings),
                    pages_config.static_files(),
                ],
            ),
        ],
        dependencies={
            "ctx": provide_context,
            "base_url": Provide(lambda: settings.links.public_base_url, use_cache=True, sync_to_thread=False),
            "organisation": Provide(lambda: organisation, use_cache=True, sync_to_thread=False),
            "webhook_sender": Provide(lambda: relay.sender, use_cache=True, sync_to_thread=False),
        },
        state=state,
        middleware=[*client_behind_proxy(settings.limits.trusted_proxies), RequestIds],
        template_config=pages_config.templates(settings.organisation),
        stores={
            "rate_limit": rate_limit_store(settings),
            staff_config.SESSIONS_STORE: staff_config.sessions_store(settings),
        },
        plugins=[problems.plugin()],
        exception_handlers={Exception: problems.internal_error},
        openapi_config=openapi_config(settings.docs),
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
    )
    app = Litestar.from_config(config)
    only_probes_unguarded(app)
    contract.conform(app)
    # Both wrap Litestar's own handler, inside its __call__: the app stays the Litestar object.
    app.asgi_handler = contract.AllowHeader(app)
    check_shortcut.install(app)
    return app


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document as the app serves it; ``consent-service openapi`` prints it."""
    return create_app(settings).openapi_schema.to_schema()


def app_from_env() -> Litestar:
    """The factory servers call (``uvicorn --factory``): settings from this process's environment.

    ``serve`` has refused a bad environment before any worker starts; a server pointed at this factory
    by hand gets the same lines, not a traceback.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(exc.report()) from None
    logs.configure(settings.logs.format, settings.logs.level)
    return create_app(settings)
