"""DESIGN §4.1: an opt-out acknowledged must survive a crash, so a database that could lose a commit
gets no traffic: readiness says 503 and names the setting, and the log says it too."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from consent_service.adapters.sealing import AesGcmSealer
from consent_service.db import connect
from tests.e2e.conftest import running
from tests.support.services import private_postgres

SEALER = AesGcmSealer(secrets.token_bytes(32))


@pytest.mark.parametrize("setting", ["fsync", "synchronous_commit", "full_page_writes"])
def test_readiness_refuses_a_postgresql_that_can_lose_commits(tmp_path: Path, setting: str) -> None:
    with private_postgres(**{setting: "off"}) as postgres:
        assert postgres.show(setting) == "off"
        env = {
            "CONSENT_DATABASE_URL": postgres.database_url("postgres"),
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
        with running(tmp_path, wait_for="/health/live", **env) as server:
            ready = httpx.get(f"{server.base}/health/ready")
            assert ready.status_code == 503
            assert f"{setting}=off" in ready.json()["status"]
            assert f"{setting}=off" in (tmp_path / "server.log").read_text()


def test_a_durable_postgresql_is_ready(tmp_path: Path) -> None:
    with private_postgres() as postgres:
        env = {
            "CONSENT_DATABASE_URL": postgres.database_url("postgres"),
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
        with running(tmp_path, **env) as server:
            assert httpx.get(f"{server.base}/health/ready").json() == {"status": "ok"}


async def test_sqlite_below_synchronous_full_is_named(tmp_path: Path) -> None:
    store = connect(f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}", sealer=SEALER)
    assert await store.durability() == []
    relaxed = connect(f"sqlite+aiosqlite:///{tmp_path / 'relaxed.db'}", sealer=SEALER)

    @event.listens_for(relaxed._writer.sync_engine, "connect")
    def _relax(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    try:
        assert await relaxed.durability() == ["synchronous=NORMAL"]
    finally:
        await store.dispose()
        await relaxed.dispose()


async def test_our_commits_wait_for_the_flush_whatever_the_server_says() -> None:
    """A server left at ``synchronous_commit=off`` is named (above), and our own commits wait for
    their flush all the same: the setting is the connection's own, made once when it is opened."""
    with private_postgres(synchronous_commit="off") as postgres:
        store = connect(postgres.database_url("postgres"), sealer=SEALER)
        try:
            for _ in range(3):  # a connection just opened, then the same one back from the pool
                async with store.writing() as uow:
                    shown = (await uow._c.exec_driver_sql("SHOW synchronous_commit")).scalar()
                assert shown == "on"
            assert await store.durability() == ["synchronous_commit=off"]
        finally:
            await store.dispose()
