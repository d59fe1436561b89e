"""What the benches share: servers started and stopped, throwaway databases, wrk runs measured.

``bench/checks.py`` (the check endpoints, every server and worker count) and ``bench/core.py`` (issue 15's
ratios against baselines) both start processes on free loopback ports, load them with ``wrk`` and
sample the server's CPU and resident memory while they do; the helpers for that live here once.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
# The bench runs as a script; the helpers it shares with the tests live in the repository's tests/.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.processes import cpu_ticks, rss_kib, settle  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
#: The ``consent-service`` command a load runs against: this checkout's unless the bench is comparing
#: another one (``core.py --compare``), whose own environment then serves.
SERVICE = {"command": VENV_BIN / "consent-service"}
RESULTS_DIR = ROOT / "bench" / "results"
HOST = "127.0.0.1"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL_TEMPLATE = "postgresql://postgres@127.0.0.1:5432/{db}"
REDIS_URL = "redis://127.0.0.1:6379/0"
DOMAIN = "bench.example"
MARKER = "BENCH_JSON "

__all__ = ["cpu_ticks", "rss_kib", "settle"]


class BenchError(Exception):
    """Something stopped a measurement; the message says what (and the server log's tail, if any)."""


@dataclass(slots=True)
class Load:
    """One load measurement, from wrk's Lua ``done`` hook (or a Python client, in the same shape)."""

    name: str
    requests: int
    duration_s: float
    rps: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    counts: dict[str, int]
    connections: int
    server_cpu_pct: float | None
    addresses_per_request: int = 1
    server_rss_mib: dict[str, float] = field(default_factory=dict)

    @property
    def non_2xx(self) -> int:
        return self.errors.get("status", 0)

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")

    @property
    def addresses_per_s(self) -> float:
        return self.rps * self.addresses_per_request

    @property
    def cpu_ms_per_request(self) -> float | None:
        """Server CPU per request (all its processes), in ms of one core."""
        if self.server_cpu_pct is None or not self.rps:
            return None
        return 10 * self.server_cpu_pct / self.rps


# --------------------------------------------------------------------------- wrk

#: The ``done`` hook every wrk script shares: wrk's summary and the threads' ``counts`` as one JSON line.
LUA_COMMON = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function counts_json()
  local merged = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    if c then
      for k, v in pairs(c) do merged[k] = (merged[k] or 0) + v end
    end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d},"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%.1f,"p50":%.1f,'
    .. '"p90":%.1f,"p99":%.1f},"counts":%s}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), counts_json()))
end

function bump(k) counts[k] = (counts[k] or 0) + 1 end
"""


def lua_script(specific: str, **values: str) -> str:
    """``LUA_COMMON`` and a load's own Lua, each ``__NAME__`` placeholder replaced by ``values[name]``."""
    text = LUA_COMMON + specific
    for name, value in values.items():
        text = text.replace(f"__{name.upper()}__", value)
    return text


def parse_marker(output: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith(MARKER):
            parsed: dict[str, Any] = json.loads(line[len(MARKER) :])
            return parsed
    raise BenchError(f"the load generator printed no result:\n{output[-2000:]}")


@dataclass(frozen=True, slots=True)
class Measured:
    """A client process's output and what the server's processes did while it ran."""

    stdout: str
    server_cpu_pct: float | None
    server_rss_mib: dict[str, float]


class RssSampler:
    """The server tree's resident memory, sampled every 0.2 s by a thread while a ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples = [rss_kib(pid)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.samples.append(rss_kib(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(rss_kib(self.pid))

    def mib(self) -> dict[str, float]:
        """At the start, at the peak and at the end, in MiB."""
        return {
            "start": self.samples[0] / 1024,
            "peak": max(self.samples) / 1024,
            "end": self.samples[-1] / 1024,
        }


def run_measured(command: Sequence[str], timeout: float, server_pid: int) -> Measured:
    """Run a load client to its end; sample the server tree's CPU (before/after) and RSS (every 0.2 s)."""
    ticks_before = cpu_ticks(server_pid)
    started = time.perf_counter()
    with RssSampler(server_pid) as rss:
        done = subprocess.run(  # noqa: S603 - a fixed command line built by the bench
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    wall = time.perf_counter() - started
    ticks_after = cpu_ticks(server_pid)
    if done.returncode != 0:
        output = f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        raise BenchError(f"{command[0]} exited {done.returncode}:\n{output}")
    cpu = None
    if ticks_before is not None and ticks_after is not None:
        cpu = 100 * (ticks_after - ticks_before) / os.sysconf("SC_CLK_TCK") / wall
    return Measured(done.stdout, cpu, rss.mib())


def load_from(name: str, raw: dict[str, Any], measured: Measured, connections: int, per_request: int) -> Load:
    duration = raw["duration_us"] / 1e6
    return Load(
        name=name,
        requests=raw["requests"],
        duration_s=duration,
        rps=raw["requests"] / duration if duration else 0.0,
        latency_ms={k: v / 1000 for k, v in raw["latency_us"].items()},
        errors=raw["errors"],
        counts=raw["counts"],
        connections=connections,
        server_cpu_pct=measured.server_cpu_pct,
        addresses_per_request=per_request,
        server_rss_mib=measured.server_rss_mib,
    )


@dataclass(frozen=True, slots=True)
class Wrk:
    """One wrk run: where, how hard, for how long."""

    url: str
    duration_s: float
    connections: int
    threads: int
    timeout_s: float = 5

    def command(self, script: Path) -> list[str]:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise BenchError("wrk is not installed (apt-get install wrk)")
        return [
            wrk,
            f"-t{min(self.threads, self.connections)}",
            f"-c{self.connections}",
            f"-d{max(1, round(self.duration_s))}s",
            f"--timeout={max(1, round(self.timeout_s))}s",
            "-s",
            str(script),
            self.url,
        ]


def run_wrk(name: str, wrk: Wrk, script: Path, server_pid: int, per_request: int = 1) -> Load:
    """Run wrk with ``script`` against a server and return its figures with the server's CPU and RSS."""
    measured = run_measured(wrk.command(script), wrk.duration_s + wrk.timeout_s + 60, server_pid)
    return load_from(name, parse_marker(measured.stdout), measured, wrk.connections, per_request)


# --------------------------------------------------------------------------- processes


@dataclass(slots=True)
class Server:
    """A process serving HTTP on a loopback port, started by the bench in its own session."""

    process: subprocess.Popen[bytes]
    base_url: str
    api_key: str
    stdout_path: Path
    stderr_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        text = ""
        for path in (self.stdout_path, self.stderr_path):
            if path.exists():
                text += f"--- {path.name}\n" + path.read_text(errors="replace")[-chars:]
        return text

    def alive(self, before: str) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"the server died before {before}:\n{self.log_tail()}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _first_start_key(stdout_path: Path) -> str:
    """The API key ``consent-service serve`` prints on a first start (the line after "First start")."""
    lines = stdout_path.read_text(errors="replace").splitlines()
    for before, line in itertools.pairwise(lines):
        if before.startswith("First start") and line.strip().startswith("csk_"):
            return line.strip()
    return ""


def launch(
    command: Sequence[str],
    env: dict[str, str],
    workdir: Path,
    name: str,
    port: int,
    ready_path: str,
    wants_key: bool = False,
    ready_timeout: float = 90,
) -> Server:
    """Start ``command`` (listening on ``port``); return once ``ready_path`` answers 200 (and, if
    ``wants_key``, the first-start API key was printed)."""
    stdout_path, stderr_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(  # noqa: S603 - the project's own entry points
            list(command),
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(process, f"http://{HOST}:{port}", "", stdout_path, stderr_path)
    deadline = time.monotonic() + ready_timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
            if wants_key and not server.api_key:
                server.api_key = _first_start_key(stdout_path)
            if server.api_key or not wants_key:
                try:
                    if httpx.get(server.base_url + ready_path, timeout=2).status_code == 200:
                        return server
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        raise BenchError(f"{name} was not ready in {ready_timeout:.0f} s:\n{server.log_tail()}")
    except BaseException:
        stop_server(server)
        raise


def stop_server(server: Server) -> None:
    """SIGTERM to the server's own process group (it was started in a new session), then SIGKILL."""
    process = server.process
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass(frozen=True, slots=True)
class Setup:
    """One configuration measured: the database, the ASGI server and how many worker processes."""

    backend: str
    server: str
    workers: int

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.server}/{self.workers}w"


def start_service(env: dict[str, str], workdir: Path, setup: Setup, name: str = "server") -> Server:
    """``consent-service serve`` on a free loopback port; returns once /health/ready answers 200."""
    port = free_port()
    command = [
        str(SERVICE["command"]),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--server",
        setup.server,
        "--workers",
        str(setup.workers),
    ]
    return launch(command, env, workdir, name, port, "/health/ready", wants_key=True)


def service_env(data_dir: Path, database: str | None) -> dict[str, str]:
    """The service's environment: SQLite in ``data_dir``, or ``database`` on PostgreSQL with Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env["CONSENT_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    if database is not None:
        env["CONSENT_DATABASE_URL"] = PG_URL_TEMPLATE.format(db=database)
        env["CONSENT_FINGERPRINT_KEY"] = secrets.token_hex(32)
        env["CONSENT_LINK_SIGNING_KEY"] = secrets.token_hex(32)
        env["CONSENT_ENCRYPTION_KEY"] = secrets.token_hex(32)
        # Production's pairing: PostgreSQL with Redis for the check cache's change signal.
        env["CONSENT_REDIS_URL"] = REDIS_URL
    return env


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def unwind_on_sigterm() -> None:
    """A SIGTERM (a timeout, a CI stop) unwinds like Ctrl-C: ``finally`` blocks stop servers, drop
    databases."""
    signal.signal(signal.SIGTERM, _terminated)


def log_problems(server: Server) -> list[str]:
    text = server.stderr_path.read_text(errors="replace") if server.stderr_path.exists() else ""
    pattern = re.compile(r"^(ERROR|CRITICAL|Traceback)|Exception", re.MULTILINE)
    return [line for line in text.splitlines() if pattern.search(line)][:20]


# --------------------------------------------------------------------------- databases


async def create_database() -> str:
    name = f"consent_bench_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(name: str) -> None:
    assert re.fullmatch(r"consent_bench_[0-9a-f]{8}", name)
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


# --------------------------------------------------------------------------- requests


def consent_choices(choices: Choices) -> list[dict[str, Any]]:
    """Grants given by ticking an empty box, each citing the purpose's first wording."""
    return [
        {
            "purpose": purpose,
            "channel": channel,
            "decision": "granted",
            "affirmative_action": "ticked_box",
            "pre_ticked": False,
            "notice": {"purpose": purpose, "version": 1},
        }
        for purpose, channel in choices
    ]


Choices = Sequence[tuple[str, str | None]]


def registration(address: str, choices: Choices = (("marketing", "email"),)) -> dict[str, Any]:
    """``POST /v1/registrations``'s body: a new person with an email address and grants from a web form."""
    return {
        "person": {"contacts": [{"kind": "email", "value": address}]},
        "choices": consent_choices(choices),
        "source": "web_form",
    }


def withdrawal(purpose: str = "marketing", channel: str | None = "email") -> dict[str, Any]:
    """``POST /v1/people/{id}/consents``'s body: one choice withdrawn, as a caller asked by email."""
    return {
        "choices": [{"purpose": purpose, "channel": channel, "decision": "withdrawn"}],
        "source": "email",
        "evidence": {"staff_member": "Bench Caller", "note": "replied: stop emailing me"},
    }
