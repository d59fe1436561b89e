"""Integration fixtures: the real app over a real SQLite file and a real PostgreSQL database.

Every API test runs once per backend. Each PostgreSQL run gets a database of its own, dropped at the
end. Tests isolate themselves by using fresh addresses and references, so no cleanup is needed
between them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.cli import migrate
from consent_service.config import Settings
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.keys import KeyScope
from consent_service.domain.ledger import AffirmativeAction, Decision, Evidence, Source
from consent_service.services import choices
from consent_service.services.catalogue import seed
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.context import Context
from consent_service.services.keys import create_key
from tests.support.asgi import in_process
from tests.support.log_sweep import CANARIES

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: Tests' webhooks are receivers on this machine; nothing a test registers may be sent further.
LOOPBACK_ONLY = "127.0.0.0/8,::1,localhost"


def unavailable(what: str) -> None:
    """Skip locally, fail in CI: a suite that silently skips its PostgreSQL half proves nothing."""
    if IN_CI:
        pytest.fail(f"{what} is not reachable, and CI=true forbids skipping", pytrace=False)
    pytest.skip(f"{what} is not reachable")


async def _pg(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"consent_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable(f"PostgreSQL at 127.0.0.1:5432 ({type(exc).__name__}: {exc})")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"

    async def ping() -> None:
        client = Redis.from_url(url, socket_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (OSError, RedisError) as exc:
        unavailable(f"Redis at 127.0.0.1:6379 ({type(exc).__name__})")
    return url


def _settings(backend: str, tmp: Path, request: pytest.FixtureRequest) -> Settings:
    environ = {
        "CONSENT_DATA_DIR": str(tmp),
        "CONSENT_CHECK_TIMEOUT": "5",
        "CONSENT_PUBLIC_BASE_URL": "http://testserver",
        "CONSENT_PUBLIC_RATE_LIMIT": "100000",
        "CONSENT_WEBHOOK_DESTINATIONS": LOOPBACK_ONLY,
    }
    if backend == "postgresql":
        environ |= {
            "CONSENT_DATABASE_URL": request.getfixturevalue("postgres_url"),
            # Production's pairing: PostgreSQL for the record, Redis for the shared cache signal.
            "CONSENT_REDIS_URL": request.getfixturevalue("redis_url"),
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
    return Settings.from_env(environ)


def command_line_environment(settings: Settings) -> dict[str, str]:
    """The environment for ``consent-service`` run beside the app under test, on the same database."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    environ["CONSENT_DATA_DIR"] = str(settings.data_dir)
    if settings.database.url.startswith("postgresql"):
        environ |= {
            "CONSENT_DATABASE_URL": settings.database.url,
            "CONSENT_FINGERPRINT_KEY": settings.fingerprint_key.hex(),
            "CONSENT_LINK_SIGNING_KEY": settings.links.signing_key.hex(),
            "CONSENT_ENCRYPTION_KEY": settings.encryption_key.hex(),
        }
    return environ


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    backend: str = request.param
    settings = _settings(backend, tmp_path_factory.mktemp(backend), request)
    migrate(settings)
    return settings


@dataclass
class Api:
    """An HTTP client calling the app in-process, with one API key per scope."""

    client: httpx.AsyncClient
    keys: dict[str, str]
    settings: Settings
    context: Context
    #: The app itself, for a test that must reach past ``CheckShortcut`` (test_check_shortcut.py).
    app: Litestar | None = None

    def headers(self, scope: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}", **extra}

    async def post(self, path: str, body: Any, scope: str = "staff", **headers: str) -> Any:
        return await self.client.post(path, json=body, headers=self.headers(scope, **headers))

    async def get(self, path: str, scope: str = "staff", **params: Any) -> Any:
        return await self.client.get(path, params=params, headers=self.headers(scope))

    async def delete(self, path: str, body: Any, scope: str = "staff") -> Any:
        return await self.client.request("DELETE", path, json=body, headers=self.headers(scope))

    async def check(
        self, channel: str | None, to: Any = None, purpose: str = "marketing", **more: Any
    ) -> Any:
        body = {"purpose": purpose, **({"channel": channel} if channel else {}), **more}
        if to is not None:
            body["to"] = to
        response = await self.post("/v1/checks", body, scope="checks")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="session")
async def api(settings: Settings) -> AsyncIterator[Api]:
    context = build_context(settings)
    app = create_app(settings, context)
    # The app runs on the test's own event loop: Litestar's AsyncTestClient would start it on another
    # loop, and asyncpg connections cannot move between loops. The lifespan's work is done here, as
    # pytest-asyncio tears fixtures down in another task than set them up, which anyio refuses.
    await seed(context.store, context.clock)
    await context.catalogue.reload()
    transport = in_process(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        keys: dict[str, str] = {}
        for scope in KeyScope:
            _, keys[scope.value] = await create_key(
                context.store, context.clock, f"test {scope}", frozenset({scope}), None
            )
        _, keys["all"] = await create_key(context.store, context.clock, "test all", frozenset(KeyScope), None)
        yield Api(client, keys, settings, context, app)
    await shutdown(app, context)


@pytest.fixture
async def fresh_client(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The app's client with an empty cookie jar for this test, as a fresh browser would have: a staff
    session or CSRF cookie left by another test must not answer for this one."""
    kept = httpx.Cookies(api.client.cookies)
    api.client.cookies.clear()
    try:
        yield api.client
    finally:
        api.client.cookies = kept


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A second connection to the same database, for looking under the API (row counts, dumps)."""
    engine = create_async_engine(settings.database.url)
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608


def ticked_grant(purpose: str, channel: Channel, context: Mapping[str, Any] | None = None) -> ChoiceInput:
    """A grant of the purpose's first wording, given by ticking an empty box (LEGAL #3)."""
    return ChoiceInput(
        purpose,
        channel,
        Decision.GRANTED,
        (purpose, 1),
        context,
        affirmative_action=AffirmativeAction.TICKED_BOX,
        pre_ticked=False,
    )


async def register_someone(ctx: Context, *given: ChoiceInput, evidence: Evidence | None = None) -> str:
    """A new person with a new email address, registered from a web form with these choices (a ticked
    marketing email grant if none); their id."""
    done = await choices.register(
        ctx,
        choices.Register(
            PersonInput(contacts=[ContactInput(ContactKind.EMAIL, fresh_email())]),
            ChoicesInput(
                list(given or [ticked_grant("marketing", Channel.EMAIL)]),
                Source.WEB_FORM,
                "test",
                evidence=evidence or Evidence(),
            ),
        ),
    )
    return done.person_id


async def tamper_with_events(url: str, statement: str, **params: Any) -> None:
    """Change the ledger under the API as an intruder with the database owner's rights would: the
    append-only triggers refuse the statement, so the owner lifts them, changes the row and puts them
    back. What is left for the hash chain to catch is what such an intruder could do."""
    engine = create_async_engine(url)
    try:
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement), params)
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("ALTER TABLE consent_events DISABLE TRIGGER USER"))
                await connection.execute(text(statement), params)
                await connection.execute(text("ALTER TABLE consent_events ENABLE TRIGGER USER"))
            else:
                found = await connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                )
                triggers = found.all()
                assert triggers
                for name, _ in triggers:
                    await connection.execute(text(f'DROP TRIGGER "{name}"'))
                await connection.execute(text(statement), params)
                for _, sql in triggers:
                    await connection.execute(text(sql))
    finally:
        await engine.dispose()


def fresh_email() -> str:
    """A family's address no other test uses; a canary the whole run's logs are searched for."""
    email = f"family.{uuid.uuid4().hex[:12]}@example.org"
    CANARIES.add(email)
    return email


def fresh_mobile() -> str:
    mobile = f"07912 {secrets.randbelow(10**6):06d}"
    CANARIES.add(mobile)
    return mobile


@dataclass
class Fresh:
    context: Context
    url: str


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Fresh]:
    """A database of its own, for tests that tamper with rows or sweep the whole store.

    The check budget is as generous as the shared fixture's: a first check on a new database on a
    busy CI machine can take longer than production's 0.2 s, and these tests assert decisions, not
    the degraded answer (tests/fault proves that one).
    """
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")  # fails or skips as that fixture does
        name = f"consent_test_{secrets.token_hex(6)}"
        await _pg(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        environ = {
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": url,
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
    else:
        environ = {"CONSENT_DATA_DIR": str(tmp_path)}
    environ["CONSENT_CHECK_TIMEOUT"] = "5"
    settings = Settings.from_env(environ)
    await asyncio.to_thread(migrate, settings)
    context = build_context(settings)
    await seed(context.store, context.clock)
    await context.catalogue.reload()
    yield Fresh(context, settings.database.url)
    await context.store.dispose()
    if request.param == "postgresql":
        await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
