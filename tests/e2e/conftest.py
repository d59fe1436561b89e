"""The real service as a process, for the end-to-end tests: `consent-service serve` on a fresh data dir."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from consent_service.cli.serve import STOP_WITHIN

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Server:
    base: str
    key: str
    data_dir: Path
    pid: int = 0

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(data_dir: Path, *args: str, wait_for: str = "/health/ready", **env_vars: str) -> Iterator[Server]:
    """`consent-service serve` as a process until the block ends; its first-start key read from its log.

    ``CONSENT_PUBLIC_BASE_URL=""`` leaves that variable unset, for serve to choose the links' base."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CONSENT_DATA_DIR": str(data_dir),
        "CONSENT_PUBLIC_BASE_URL": base,
        "CONSENT_PUBLIC_RATE_LIMIT": "1000",
        # A served test's webhooks (schemathesis registers many) never leave this machine.
        "CONSENT_WEBHOOK_DESTINATIONS": "127.0.0.0/8,::1,localhost",
        **env_vars,
    }
    if "CONSENT_DATABASE_URL" not in env_vars:
        env.pop("CONSENT_DATABASE_URL", None)
    if not env["CONSENT_PUBLIC_BASE_URL"]:
        del env["CONSENT_PUBLIC_BASE_URL"]
    log = data_dir / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(BIN / "consent-service"), "serve", "--port", str(port), *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are in its process group, to be stopped with it
        )
    try:
        # A bound on a hang, not a speed target: spawned workers import the whole app afresh, which on
        # a loaded 2-core machine took over 30 s.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}{wait_for}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the server did not become ready:\n{log.read_text()}")
        lines = log.read_text().splitlines()
        assert lines[0].startswith("First start"), lines
        yield Server(base=base, key=lines[1].strip(), data_dir=data_dir, pid=process.pid)
    finally:
        stopped(process, log)


def stopped(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, as a supervisor stops it: serve kills a worker that is still busy after its own bound
    (``STOP_WITHIN``), so a serve still running long after that is a fault, reported with its log. Its
    whole process group is then killed, so no worker outlives the test holding the port."""
    process.terminate()
    try:
        process.wait(timeout=STOP_WITHIN + 30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        pytest.fail(f"serve did not stop within {STOP_WITHIN + 30} s of SIGTERM; its log ends:\n{tail}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("served")) as served:
        yield served


def run_aside(work: Coroutine[Any, Any, None]) -> None:
    """Runs `work` on an event loop of its own thread: Playwright's sync API keeps one running here."""
    with ThreadPoolExecutor(max_workers=1) as aside:
        aside.submit(asyncio.run, work).result()


@pytest.fixture
def postgres_and_redis() -> Iterator[dict[str, str]]:
    name = f"consent_e2e_{secrets.token_hex(5)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        run_aside(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is not reachable and CI=true forbids skipping: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    yield {
        "CONSENT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "CONSENT_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
        "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
        "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
    }
    run_aside(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
