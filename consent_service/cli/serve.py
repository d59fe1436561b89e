"""``consent-service serve``: migrate, make the first key on a first start, then run the server.

The server is handed the app factory by its path (``APP_FACTORY``), not the app: each worker builds
its own, and this process, which only starts them, never loads the web package.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from consent_service.bootstrap import opened
from consent_service.cli.database import migrate
from consent_service.config import (
    Settings,
    keep_worker_memory_compact,
    mint_links_for,
    share_metrics_between_workers,
)
from consent_service.logs import log_config
from consent_service.services import keys

APP_FACTORY = "consent_service.api.app:app_from_env"


def add_commands(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="processes; one per core is a good start")
    serve.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        default="granian",
        help="the ASGI server (default granian)",
    )
    serve.set_defaults(run=run)


async def _first_key(settings: Settings) -> str | None:
    async with opened(settings) as ctx:
        return await keys.ensure_first_key(ctx.store, ctx.clock)


def run(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings)
    secret = asyncio.run(_first_key(settings))
    if secret:
        print("First start: an API key with every scope was made. It is shown once; keep it safe:")
        print(secret, flush=True)
    logging_config = log_config(settings.logs.format, settings.logs.level)
    if args.workers > 1:
        share_metrics_between_workers(settings)
    keep_worker_memory_compact()
    if base_url := mint_links_for(args.host, args.port):
        print(f"Links for families point at {base_url} (set CONSENT_PUBLIC_BASE_URL to change)", flush=True)
    if args.server == "granian":
        _serve_granian(args, logging_config)
    else:
        _serve_uvicorn(args, logging_config)
    return 0


#: Seconds a stopping worker has to finish answers in flight and its last bookkeeping (the key uses it
#: counted, at most one database timeout) before it is killed.
STOP_WITHIN = 8


def _serve_granian(args: argparse.Namespace, logging_config: dict[str, Any]) -> None:
    """The default: about twice uvicorn's requests per second on this service (bench/README.md).

    A worker that dies is started again, so one crash does not halve the capacity until a restart.

    Workers are started fresh (``spawn``), not forked from this process: a forked worker inherits the
    Prometheus client as this process imported it, before ``PROMETHEUS_MULTIPROC_DIR`` was set, so it
    counted in its own memory and ``/metrics`` answered empty with two workers or more. A fresh worker
    also carries none of this process's start-up work (migrations, the first key) in its memory.

    A worker still busy ``STOP_WITHIN`` seconds after the stop signal is killed, so that ``serve``
    always ends: a stop waits for answers in flight, never for ever (granian's default), and a
    supervisor's own deadline (Docker's is 10 s, then SIGKILL) is met. Nothing acknowledged is lost
    by it: every answer that says "recorded" is sent after its commit.
    """
    import multiprocessing

    from granian import Granian
    from granian.constants import Interfaces, Loops

    multiprocessing.set_start_method("spawn", force=True)

    Granian(
        APP_FACTORY,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=args.workers,
        factory=True,
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_WITHIN,
        log_access=False,
        log_dictconfig=logging_config,
    ).serve()


def _serve_uvicorn(args: argparse.Namespace, logging_config: dict[str, Any]) -> None:
    import uvicorn

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config,
        access_log=False,
        timeout_graceful_shutdown=STOP_WITHIN,
    )
