"""Checks answered from a PostgreSQL streaming replica never allow what an acknowledged opt-out forbids
(issue 15, target 6; ``domain/replication.py``).

A private primary and a hot standby streaming from it (``pg_basebackup -R``), the service on both with
``CONSENT_REPLICA_URL`` and Redis holding the watermark. Writes go through the HTTP API (a 201 is the
acknowledgement); checks call the use cases the check routes call, so the primary can be frozen under
them (a frozen primary answers nothing: an answer that is neither degraded nor late came from the
replica).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from consent_service.adapters.sealing import AesGcmSealer
from consent_service.adapters.watermark import RedisWatermark
from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.cli import migrate
from consent_service.config import Settings
from consent_service.db.engine import SqlStore
from consent_service.db.replica import WatermarkingStore
from consent_service.domain.channels import Channel
from consent_service.domain.decision import Answer
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.keys import KeyScope
from consent_service.services import checks
from consent_service.services.catalogue import seed
from consent_service.services.context import Context
from consent_service.services.keys import create_key
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process
from tests.support.services import PrivatePostgres, private_postgres, private_replica

#: One set for the module: its tests share the cluster, whose records are sealed under the first.
SECRETS = {
    name: secrets.token_hex(32)
    for name in ("CONSENT_FINGERPRINT_KEY", "CONSENT_LINK_SIGNING_KEY", "CONSENT_ENCRYPTION_KEY")
}
WITHDRAW = {"purpose": "marketing", "channel": "email", "decision": "withdrawn"}


@dataclass
class Cluster:
    primary: PrivatePostgres
    replica: PrivatePostgres
    api: Api
    #: The replica read directly, with no rule: what a check would say if it trusted it blindly.
    blind: SqlStore

    @property
    def ctx(self) -> Context:
        return self.api.context


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivatePostgres, PrivatePostgres]]:
    with private_postgres() as primary, private_replica(primary) as replica:
        yield primary, replica


@pytest.fixture
async def cluster(
    servers: tuple[PrivatePostgres, PrivatePostgres], redis_url: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    primary, replica = servers
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": primary.database_url("postgres"),
            "CONSENT_REPLICA_URL": replica.database_url("postgres"),
            # The machine's Redis; the namespace comes from the private primary's URL (its port).
            "CONSENT_REDIS_URL": redis_url,
            # No answers from memory: every check below reads a database, so it shows which.
            "CONSENT_CHECK_CACHE": "off",
            "CONSENT_CHECK_TIMEOUT": "2",
            "CONSENT_PUBLIC_BASE_URL": "http://testserver",
            **SECRETS,
        }
    )
    await asyncio.to_thread(migrate, settings)  # alembic runs its own event loop
    context = build_context(settings)
    app = create_app(settings, context)
    await seed(context.store, context.clock)
    await context.catalogue.reload()
    blind = SqlStore(replica.database_url("postgres"), sealer=AesGcmSealer(settings.encryption_key))
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://testserver") as client:
        _, key = await create_key(context.store, context.clock, "replica", frozenset(KeyScope), None)
        keys = {scope.value: key for scope in KeyScope}
        yield Cluster(primary, replica, Api(client, keys, settings, context), blind)
    primary.thaw()
    await blind.dispose()
    await shutdown(app, context)


def _reads() -> dict[str, float]:
    return {
        source: REGISTRY.get_sample_value("consent_check_reads_total", {"source": source}) or 0.0
        for source in ("replica", "behind", "watermark_unknown", "replica_away")
    }


async def answered(ctx: Context, email: str) -> tuple[Answer, str]:
    """The check's answer and where its read went (the counter it moved)."""
    before = _reads()
    answer = await checks.check(ctx, checks.CheckInput("marketing", Channel.EMAIL, email))
    moved = [source for source, count in _reads().items() if count > before[source]]
    assert len(moved) == 1, moved
    return answer, moved[0]


async def from_replica(ctx: Context, email: str, within: float = 10.0) -> Answer:
    """The answer once the replica has replayed far enough to give it (streaming takes milliseconds)."""
    deadline = time.monotonic() + within
    while True:
        answer, source = await answered(ctx, email)
        if source == "replica":
            return answer
        assert source == "behind", source
        assert time.monotonic() < deadline, "the replica never caught up"
        await asyncio.sleep(0.02)


async def on_replica(replica: PrivatePostgres, statement: str) -> object:
    connection = await asyncpg.connect(replica.dsn, timeout=5)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


async def with_primary_frozen(cluster: Cluster, email: str) -> tuple[Answer, list[bool]]:
    """A check, and a bulk check of the same address, while the primary answers nothing at all."""
    cluster.primary.freeze()
    try:
        started = time.monotonic()
        answer = await checks.check(cluster.ctx, checks.CheckInput("marketing", Channel.EMAIL, email))
        bulk = await checks.check_many(cluster.ctx, "marketing", Channel.EMAIL, [email])
        assert time.monotonic() - started < 1.0, "a check waited for the frozen primary"
    finally:
        cluster.primary.thaw()
    assert not answer.degraded and not any(b.degraded for b in bulk), "a read went to the frozen primary"
    return answer, [b.allowed for b in bulk]


async def test_a_replica_answers_only_once_it_has_every_acknowledged_opt_out(cluster: Cluster) -> None:
    ctx = cluster.ctx
    email = fresh_email()
    person = (await register(cluster.api, email, choices=[grant("email")]))["person_id"]

    # (a) Once the replica has the grant, it answers: even with the primary frozen, allowed.
    assert (await from_replica(ctx, email)).allowed is True
    answer, bulk = await with_primary_frozen(cluster, email)
    assert (answer.allowed, bulk) == (True, [True])

    # (b) Replay paused: the replica still says "allowed" after the withdrawal is acknowledged, so
    # every check must go to the primary, and deny.
    await on_replica(cluster.replica, "SELECT pg_wal_replay_pause()")
    try:
        withdrawn = await cluster.api.post(
            f"/v1/people/{person}/consents", {"choices": [WITHDRAW], "source": "web_form"}
        )
        assert withdrawn.status_code == 201, withdrawn.text
        stale = await checks.check(
            replace(ctx, check_reads=cluster.blind), checks.CheckInput("marketing", Channel.EMAIL, email)
        )
        assert stale.allowed is True, "the paused replica should still hold the grant"
        answer, source = await answered(ctx, email)
        assert (answer.allowed, answer.degraded, source) == (False, False, "behind")
        bulk_answers = await checks.check_many(ctx, "marketing", Channel.EMAIL, [email])
        assert [b.allowed for b in bulk_answers] == [False]
    finally:
        await on_replica(cluster.replica, "SELECT pg_wal_replay_resume()")

    # Replay resumed: the replica has the withdrawal, answers again, and denies, primary frozen or not.
    assert (await from_replica(ctx, email)).allowed is False
    answer, bulk = await with_primary_frozen(cluster, email)
    assert (answer.allowed, bulk) == (False, [False])

    # The watermark lost (a flushed Redis): unknown, so the primary answers until a write rebuilds it.
    redis = Redis.from_url(cluster.api.settings.redis_url or "")
    try:
        await redis.delete(f"consent:{cluster.api.settings.namespace}:replica-watermark")
    finally:
        await redis.aclose()
    answer, source = await answered(ctx, email)
    assert (answer.allowed, source) == (False, "watermark_unknown")
    granted = await cluster.api.post(
        f"/v1/people/{person}/consents", {"choices": [grant("email")], "source": "web_form"}
    )
    assert granted.status_code == 201, granted.text
    assert (await from_replica(ctx, email)).allowed is True

    # (c) The replica hung (frozen): the primary answers within the probe's budget (a quarter of
    # the check's), and answers right; then the replica stopped: the same.
    cluster.replica.freeze()
    try:
        started = time.monotonic()
        answer, source = await answered(ctx, email)
        assert (answer.allowed, answer.degraded, source) == (True, False, "replica_away")
        assert time.monotonic() - started < 1.0
    finally:
        cluster.replica.thaw()
    cluster.replica.stop("fast")
    try:
        withdrawn = await cluster.api.post(
            f"/v1/people/{person}/consents", {"choices": [WITHDRAW], "source": "web_form"}
        )
        assert withdrawn.status_code == 201, withdrawn.text
        answer, source = await answered(ctx, email)
        assert (answer.allowed, answer.degraded, source) == (False, False, "replica_away")
        bulk_answers = await checks.check_many(ctx, "marketing", Channel.EMAIL, [email])
        assert [b.allowed for b in bulk_answers] == [False]
    finally:
        cluster.replica.start()


async def test_the_watermark_only_rises_and_a_lost_one_is_rebuilt_past_every_commit(redis_url: str) -> None:
    """Lost (flushed, evicted, restarted empty), it is unknown until a write rebuilds it from the
    primary's position read after the loss, never from the writer's own older one."""
    watermark = RedisWatermark(redis_url, f"test-{secrets.token_hex(6)}")
    key = watermark.key
    redis = Redis.from_url(redis_url)
    primary_now = [500]

    async def primary() -> int:
        return primary_now[0]

    try:
        assert await watermark.current() is None
        assert await watermark.raise_to(100, primary)
        assert await watermark.current() == 500, "rebuilt from the primary's position, not the write's"
        assert await watermark.raise_to(300, primary)
        assert await watermark.current() == 500, "a watermark never falls"
        assert await watermark.raise_to(900, primary)
        assert await watermark.current() == 900

        await redis.delete(key)
        assert await watermark.current() is None
        primary_now[0] = 1000
        assert await watermark.raise_to(200, primary)
        assert await watermark.current() == 1000

        # A write arriving mid-rebuild (marker set, primary being asked) folds itself into the marker.
        await redis.delete(key)

        async def primary_while_another_writes() -> int:
            assert await watermark.current() is None, "a marker reads as unknown"
            assert await watermark.raise_to(2000, primary)
            return 1500

        assert await watermark.raise_to(1200, primary_while_another_writes)
        assert await watermark.current() == 2000

        # Lost again mid-rebuild: that rebuild proves nothing, and the next one reads the primary again.
        await redis.delete(key)
        asked = []

        async def primary_then_lost() -> int:
            asked.append(1)
            if len(asked) == 1:
                await redis.delete(key)
                return 2100
            return 2500

        assert await watermark.raise_to(2050, primary_then_lost)
        assert (await watermark.current(), len(asked)) == (2500, 2)
    finally:
        await redis.delete(key)
        await redis.aclose()
        await watermark.close()


async def test_a_writer_that_cannot_raise_the_watermark_waits_for_the_replica_itself(
    cluster: Cluster,
) -> None:
    """Redis unreachable from this writer (but maybe not from the others): acknowledged only once the
    replica shows the write; with replay paused, never acknowledged (503), though committed."""
    sealer = AesGcmSealer(cluster.api.settings.encryption_key)
    primary = SqlStore(cluster.primary.database_url("postgres"), sealer=sealer)
    replica = SqlStore(cluster.replica.database_url("postgres"), sealer=sealer)
    cut_off = RedisWatermark("redis://127.0.0.1:9/0", "cut-off")
    store = WatermarkingStore(primary, replica, cut_off, hold=0.5)
    try:
        await create_key(store, cluster.ctx.clock, "while the replica streams", frozenset(KeyScope), None)
        await on_replica(cluster.replica, "SELECT pg_wal_replay_pause()")
        try:
            with pytest.raises(StoreUnavailable):
                await create_key(
                    store, cluster.ctx.clock, "while replay is paused", frozenset(KeyScope), None
                )
        finally:
            await on_replica(cluster.replica, "SELECT pg_wal_replay_resume()")
    finally:
        await store.dispose()
