"""The composition root: ``create_app(settings)`` wires the store, the clock and the use cases together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from consent_service import __version__
from consent_service.adapters.clock import SystemClock
from consent_service.api import problems
from consent_service.api.controllers.catalogue import CatalogueController
from consent_service.api.controllers.checks import CheckController
from consent_service.api.controllers.health import HealthController
from consent_service.api.controllers.people import PeopleController, RegistrationController
from consent_service.api.controllers.suppressions import SuppressionController
from consent_service.api.security import authentication, scope_guard
from consent_service.config import Settings
from consent_service.db import connect
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.services.catalogue import CatalogueView, seed
from consent_service.services.context import Context
from consent_service.services.keys import KeyRing

#: A bulk check of 10,000 postal addresses is the largest body a caller needs to send.
MAX_BODY_BYTES = 4 * 1024 * 1024


def build_context(settings: Settings) -> Context:
    store = connect(settings.database_url)
    return Context(
        store=store,
        clock=SystemClock(),
        fingerprint=Fingerprinter(settings.fingerprint_key),
        catalogue=CatalogueView(store),
        default_region=settings.default_region,
        check_timeout=settings.check_timeout,
    )


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
    ctx = context or build_context(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await seed(ctx.store, ctx.clock)
        await ctx.catalogue.reload()
        try:
            yield
        finally:
            await ctx.store.dispose()

    config = AppConfig(
        route_handlers=[
            HealthController,
            RegistrationController,
            PeopleController,
            CheckController,
            SuppressionController,
            CatalogueController,
        ],
        dependencies={"ctx": Provide(lambda: ctx, use_cache=True, sync_to_thread=False)},
        state=State({"key_ring": KeyRing(ctx.store), "context": ctx}),
        middleware=[authentication()],
        guards=[scope_guard],
        plugins=[problems.plugin()],
        exception_handlers={Exception: problems.internal_error},
        openapi_config=openapi_config(settings.docs),
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY_BYTES,
    )
    return Litestar.from_config(config)


def app_from_env() -> Litestar:
    """The factory servers call (``uvicorn --factory``): settings from this process's environment."""
    return create_app(Settings.from_env())
