"""The composition root: settings in; the store, clock, check cache, spool, metrics, keys and relay out.

Both ways in, the web app (``api.app.create_app``) and the command line (``consent_service.cli``),
build what they run on here, so the two cannot drift apart and the command line needs nothing from
the web package. This is the one module that picks the database and the adapters for the domain's
ports; everything below it is handed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import msgspec

from consent_service.adapters import collector
from consent_service.adapters.changes import HttpWebhookSender, RedisChangeStream
from consent_service.adapters.check_cache import AnswerCache, SignallingStore
from consent_service.adapters.clock import SystemClock
from consent_service.adapters.metrics import PrometheusMetrics
from consent_service.adapters.passwords import Argon2Passwords
from consent_service.adapters.results import JsonResults
from consent_service.adapters.sealing import AesGcmSealer
from consent_service.adapters.signals import GenerationFeed, HostSignal, RedisFeed, RedisSignal
from consent_service.adapters.signatures import provider_keys
from consent_service.adapters.spool import FileSpool
from consent_service.adapters.watermark import RedisWatermark
from consent_service.config import Settings
from consent_service.db import SqlStore, connect
from consent_service.db.replica import ReplicaReads, WatermarkingStore
from consent_service.domain.absent import NoAnswerCache, NoSignal, NoSpool
from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.feedback.facts import ProviderKeys
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.domain.ports import Answers, ChangeFeed, ChangeSignal, Store
from consent_service.domain.purposes import Category, OrgType
from consent_service.domain.receipts import DataController
from consent_service.domain.replication import Reads
from consent_service.domain.streams import Given, Stream, mail_streams
from consent_service.domain.tokens import LinkSigner
from consent_service.services import audit, spool
from consent_service.services.catalogue import CatalogueView, seed
from consent_service.services.context import Context
from consent_service.services.keys import KeyRing
from consent_service.services.relay import Relay, RelaySettings

# The name log searches and alerts already use for these lines, from when the web app started them.
log = logging.getLogger("consent_service.app")


def build_context(settings: Settings) -> Context:
    metrics = PrometheusMetrics()
    raw = connect(
        settings.database.url,
        listeners=[metrics.committed],
        timeout=settings.database.timeout,
        sealer=AesGcmSealer(settings.encryption_key),
    )
    primary, check_reads = _replica(settings, raw, metrics)
    store, answers = _check_cache(settings, primary)
    clock = SystemClock()
    return Context(
        store=store,
        check_reads=check_reads if check_reads is not None else store,
        answers=answers,
        clock=clock,
        fingerprint=Fingerprinter(settings.fingerprint_key),
        catalogue=CatalogueView(store),
        links=LinkSigner(settings.links.signing_key, settings.links.retired_keys),
        passwords=Argon2Passwords(),
        # Keys are read and written beside the change feed: no key changes what a check answers.
        key_ring=KeyRing(raw, clock, _revocations(settings)),
        default_region=settings.default_region,
        check_timeout=settings.checks.timeout,
        bookkeeping=raw,
        results=JsonResults(),
        metrics=metrics,
        spool=FileSpool(settings.data_dir) if settings.optout_spool else NoSpool(),
        webhook_destinations=settings.webhooks.destinations,
        org_type=OrgType(settings.organisation.type),
        public_base_url=settings.links.public_base_url,
        unsubscribe_mailto=settings.links.unsubscribe_mailto,
        streams=_streams(settings),
    )


def _streams(settings: Settings) -> dict[Category, Stream]:
    given = settings.streams
    return mail_streams(
        {
            Category.MARKETING: Given(given.marketing_from, given.marketing_list_id),
            Category.ADMINISTRATIVE: Given(given.administrative_from, given.administrative_list_id),
            Category.PUBLIC_TASK: Given(given.public_task_from, given.public_task_list_id),
        },
        settings.organisation.name,
        settings.organisation.email,
        urlsplit(settings.links.public_base_url).hostname,
    )


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Context]:
    """A context for one command's work, its database connections closed after."""
    ctx = build_context(settings)
    try:
        yield ctx
    finally:
        await ctx.store.dispose()
        await ctx.key_ring.close()


def _replica(settings: Settings, raw: SqlStore, metrics: PrometheusMetrics) -> tuple[Store, Reads | None]:
    """With ``CONSENT_REPLICA_URL``: the primary, whose writes raise the replica watermark before they
    are acknowledged, and the reads of checks, from the replica whenever it has replayed that far.
    Without it, the primary as it was and no reads of their own (checks read the store)."""
    url = settings.database.replica_url
    if url is None or settings.redis_url is None:
        return raw, None
    replica = connect(url, timeout=settings.database.timeout, sealer=raw.sealer)
    watermark = RedisWatermark(settings.redis_url, settings.namespace)
    reads = ReplicaReads(
        raw,
        replica,
        watermark,
        # A replica slower than this is no faster than the primary, which then still has the rest.
        probe_timeout=settings.checks.timeout / 4,
        counted=metrics.check_read,
    )
    return WatermarkingStore(raw, replica, watermark, hold=settings.database.timeout), reads


def _check_cache(settings: Settings, store: Store) -> tuple[Store, Answers]:
    """Answers may be kept in memory only under a change feed every writer publishes to before it
    acknowledges (Redis for every host, naming what each write touched; a file for this one, where
    every write makes every worker forget); the store that publishes, and the cache."""
    mode = settings.cache_mode
    feed: ChangeFeed
    if mode == "redis" and settings.redis_url:
        feed = RedisFeed(settings.redis_url, settings.namespace, lease=settings.checks.cache_lease)
    elif mode == "host":
        feed = GenerationFeed(HostSignal(settings.data_dir / "generation"))
    else:
        return store, NoAnswerCache()
    # A writer that cannot publish holds its acknowledgement until every kept answer expires.
    ttl = settings.checks.cache_ttl
    return SignallingStore(store, feed, hold=ttl), AnswerCache(feed, ttl=ttl)


def _revocations(settings: Settings) -> ChangeSignal:
    """The signal a key's revocation moves: Redis where there is one, else, embedded (one host), a
    file every worker maps; else none, and a revocation is felt within the key ring's one second."""
    if settings.redis_url:
        return RedisSignal(
            settings.redis_url, settings.namespace, lease=settings.checks.cache_lease, name="key-revocations"
        )
    if settings.embedded:
        return HostSignal(settings.data_dir / "key-revocations")
    return NoSignal()


def build_relay(settings: Settings, ctx: Context) -> Relay:
    """The relay telling the stream and the webhooks; a commit in this worker wakes it at once."""
    streams = []
    if settings.redis_url and settings.changes.stream:
        streams.append(
            RedisChangeStream(settings.redis_url, settings.changes.stream, settings.changes.stream_maxlen)
        )
    relay = Relay(
        ctx.bookkeeping,
        ctx.clock,
        HttpWebhookSender(settings.webhooks.timeout, settings.webhooks.destinations),
        streams,
        ctx.metrics,
        RelaySettings(
            interval=settings.changes.relay_interval,
            webhook_timeout=settings.webhooks.timeout,
            max_attempts=settings.webhooks.max_attempts,
            backoff=settings.webhooks.backoff,
            backoff_max=settings.webhooks.backoff_max,
            retention_days=settings.changes.outbox_retention_days,
        ),
    )
    if isinstance(ctx.bookkeeping, SqlStore):
        ctx.bookkeeping.listeners.append(relay.wake)
    return relay


def spool_snapshot(settings: Settings) -> bytes:
    """This host's opt-out spool file as it stands (``b""`` if empty), for ``consent-service backup``."""
    return FileSpool(settings.data_dir).snapshot()


def restore_spool(settings: Settings, data: bytes) -> None:
    """This host's opt-out spool replaced by a backup's, for ``consent-service restore``."""
    FileSpool(settings.data_dir).overwrite(data)


def feedback_keys(settings: Settings) -> ProviderKeys:
    """The checks on the mail providers' feedback that are configured; the others' endpoints 404."""
    return provider_keys(
        settings.feedback.ses_signing_cert,
        settings.feedback.ses_topic_arns,
        settings.feedback.sendgrid_public_key,
        settings.feedback.mailgun_signing_key,
        settings.feedback.notify_callback_token,
    )


async def encryption_key_opens_the_record(settings: Settings) -> bool:
    """Whether ``CONSENT_ENCRYPTION_KEY`` opens the contact details held. Another key would start a
    service that fails on every page showing a family, so every command that migrates asks first."""
    sealer = AesGcmSealer(settings.encryption_key)
    store = connect(settings.database.url, timeout=settings.database.timeout, sealer=sealer)
    try:
        async with store.reading() as uow:
            return await uow.people.opens_under_key()
    finally:
        await store.dispose()


@asynccontextmanager
async def serving(settings: Settings, ctx: Context, relay: Relay) -> AsyncIterator[None]:
    """A worker's life beside its requests: the catalogue seeded and loaded, the start-up heap frozen,
    then the relay and the upkeep of the check cache and the spool run until the worker stops."""
    await seed(ctx.store, ctx.clock)
    await ctx.catalogue.reload()
    collector.freeze_start_up()
    collector.watch_pauses()
    tasks = [
        asyncio.create_task(relay.run(), name="relay"),
        # Done at once when there is no cache: nothing then trusts the database from memory.
        asyncio.create_task(ctx.answers.keep_trust(ctx.store), name="heartbeat"),
        asyncio.create_task(ctx.key_ring.record_uses(), name="key uses"),
        asyncio.create_task(collector.keep_pauses_published(), name="gc pauses"),
    ]
    # The setting that chose the spool: an applier without one would still wake five times a second.
    if settings.optout_spool:
        tasks.append(asyncio.create_task(apply_spool(ctx), name="opt-out spool"))
    tasks.append(
        asyncio.create_task(keep_checkpoints(ctx, settings.database.checkpoint_every), name="checkpoints")
    )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The last minute's key uses; a database that is away loses only those.
        with contextlib.suppress(StoreUnavailable, TimeoutError):
            await ctx.key_ring.write_uses()
        await relay.close()


async def apply_spool(ctx: Context, every: float = 0.2) -> None:
    """Applies opt-outs spooled while the database was away, as soon as it answers again.

    Looking costs one ``stat`` while the spool is empty. Every worker on the host runs this; an entry
    two of them apply at once is recorded once (``unsubscribes.apply_spooled``)."""
    while True:
        try:
            await spool.apply(ctx)
        except (StoreUnavailable, TimeoutError):
            pass
        except Exception:
            # Never let one bad round stop the applier: the entries stay spooled and checks deny them.
            log.exception("applying the opt-out spool failed; trying again")
        await asyncio.sleep(every)


async def keep_checkpoints(ctx: Context, every: float) -> None:
    """Checkpoints the person chains' heads that moved, every ``every`` seconds (``audit.checkpoint``).

    Every worker runs this; checkpoints taken at once take turns, and the second finds nothing moved."""
    while True:
        await asyncio.sleep(every)
        try:
            await audit.checkpoint(ctx)
        except (StoreUnavailable, TimeoutError):
            pass
        except Exception:
            # A failed round leaves the heads unmarked: the next one records them.
            log.exception("checkpointing the ledger failed; trying again")


def controller(settings: Settings) -> DataController:
    """The controller consent receipts and records name. The organisation section holds its fields,
    named alike, and its type in law, which decides rules (the context's ``org_type``) rather than
    what a receipt names."""
    named = msgspec.structs.asdict(settings.organisation)
    del named["type"]
    return DataController(**named)
