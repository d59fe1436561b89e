"""DESIGN §4.2: when the database cannot answer, marketing fails closed and administration open."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from consent_service.adapters.sealing import AesGcmSealer
from consent_service.bootstrap import build_context
from consent_service.config import Settings
from consent_service.db.engine import SqlStore
from consent_service.domain.channels import Channel
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.purposes import DEFAULT_CATALOGUE, Catalogue
from consent_service.services import checks
from consent_service.services.context import Context
from tests.integration.conftest import PG_ADMIN_DSN


@pytest.fixture
async def unreachable(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Context]:
    """A real PostgreSQL driver pointed at a port where nothing listens, as when the database is down."""
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(tmp_path_factory.mktemp("down")),
            "CONSENT_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/consent",
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
    )
    ctx = build_context(settings)
    # The catalogue was loaded at start, before the database went away.
    ctx.catalogue.catalogue = Catalogue.of(DEFAULT_CATALOGUE)
    yield ctx
    await ctx.store.dispose()


async def test_marketing_is_denied_explicitly_and_administration_allowed(unreachable: Context) -> None:
    marketing = await checks.check(
        unreachable, checks.CheckInput("marketing", Channel.EMAIL, "jo@example.org")
    )
    assert (marketing.allowed, marketing.reason.value, marketing.degraded) == (
        False,
        "store_unavailable",
        True,
    )

    admin = await checks.check(
        unreachable, checks.CheckInput("administrative", Channel.EMAIL, "jo@example.org")
    )
    assert (admin.allowed, admin.reason.value, admin.degraded) == (True, "administrative", True)


async def test_a_bulk_check_is_never_a_partial_allow_list(unreachable: Context) -> None:
    answers = await checks.check_many(
        unreachable, "marketing", Channel.EMAIL, ["a@example.org", "b@example.org"]
    )
    assert [(a.allowed, a.reason.value, a.degraded) for a in answers] == [
        (False, "store_unavailable", True)
    ] * 2


async def test_readiness_reports_the_database_down(unreachable: Context) -> None:
    with pytest.raises(StoreUnavailable):
        await unreachable.store.ping()


async def test_a_degraded_administrative_bulk_check_says_so(unreachable: Context) -> None:
    answers = await checks.check_many(unreachable, "administrative", Channel.EMAIL, ["a@example.org"])
    assert [(a.allowed, a.reason.value, a.degraded) for a in answers] == [(True, "administrative", True)]


@pytest.fixture
async def closed_to_connections(postgres_url: str) -> AsyncIterator[SqlStore]:
    """A database of its own that PostgreSQL then refuses connections to (``ALLOW_CONNECTIONS false``,
    as an operator does before maintenance): the server answers, the database does not."""
    name = f"consent_closed_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        store = SqlStore(
            postgres_url.rsplit("/", 1)[0] + f"/{name}",
            timeout=5,
            sealer=AesGcmSealer(secrets.token_bytes(32)),
        )
        yield store
        await store.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_database_closed_to_connections_is_away_not_a_server_error(
    closed_to_connections: SqlStore,
) -> None:
    """PostgreSQL answers such a connection with SQLSTATE 55000, which the driver does not call an
    operational error: reads, writes and readiness must still say "unavailable" (a 503), not fail."""
    with pytest.raises(StoreUnavailable):
        await closed_to_connections.ping()
    with pytest.raises(StoreUnavailable):
        await closed_to_connections.durability()
    with pytest.raises(StoreUnavailable):
        async with closed_to_connections.reading():
            pass
    with pytest.raises(StoreUnavailable):
        async with closed_to_connections.writing():
            pass
