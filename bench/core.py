"""Issue 15's targets, each a ratio against baselines this bench starts and measures in the same run.

For each backend (embedded SQLite; PostgreSQL with Redis, as in production) it starts the baselines in
``bench/baselines/`` (a bare Litestar app, a plain asyncpg / Redis check, a plain asyncpg write; each
under granian with one worker), loads them with wrk, stops them, then starts ``consent-service serve``
(granian, one worker), seeds it through the API and loads it: ``/health/live``, single checks rotating
through the seeded addresses, bulk JSON and NDJSON, checks while a second client writes (with the
stale-allow proof, ``bench/mixed.py``), registrations of new people with five choices, withdrawals;
then again with two workers for registrations (and the stale-allow proof across workers). Server CPU
and resident memory are sampled during every load. The table says, per target, met or not met.

    .venv/bin/python bench/core.py [--quick] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from checks import BULK_SIZE, LUA_BULK, LUA_CHECK, LUA_HEALTH, Addresses, in_process_ceiling, seed, validate
from checks import stream_check as ndjson_stream
from harness import (
    DOMAIN,
    HOST,
    PG_URL_TEMPLATE,
    REDIS_URL,
    RESULTS_DIR,
    ROOT,
    SERVICE,
    VENV_BIN,
    BenchError,
    Load,
    Server,
    Setup,
    Wrk,
    consent_choices,
    create_database,
    drop_database,
    free_port,
    launch,
    log_problems,
    lua_script,
    parse_marker,
    run_wrk,
    service_env,
    settle,
    start_service,
    stop_server,
    unwind_on_sigterm,
    withdrawal,
)
from mixed import PROGRESS_EVERY

BASELINES = Path(__file__).resolve().parent / "baselines"
#: A registration's five choices: marketing by email, text and phone; asking again by email and text.
FIVE_CHOICES: list[tuple[str, str | None]] = [
    ("marketing", "email"),
    ("marketing", "sms"),
    ("marketing", "phone"),
    ("consent_renewal", "email"),
    ("consent_renewal", "sms"),
]


@dataclass(frozen=True, slots=True)
class Plan:
    """Durations and sizes; ``--quick`` shortens the loads and the seed (still ≥ 2,000 rotating checks)."""

    load_s: float
    warmup_s: float
    people: int
    withdrawn: int
    suppressed: int
    unknown: int
    stream_lines: int
    ceiling_repeats: int
    read_connections: int = 32
    write_connections: int = 16
    threads: int = 2
    checks_per_write: int = 20
    seed_concurrency: int = 8

    @classmethod
    def full(cls) -> Plan:
        return cls(10, 2, 2000, 300, 100, 1000, 1_000_000, 5)

    @classmethod
    def quick(cls) -> Plan:
        return cls(3, 1, 500, 80, 20, 1500, 100_000, 2)


# --------------------------------------------------------------------------- wrk scripts

#: A new person per request: a unique address from the run's token, the thread and a counter. With
#: ``__IDS__`` set, each created person's id is written to ``__IDS__.<thread>`` for the withdrawals.
LUA_REGISTER = r"""
function init(args)
  counts = {}
  n = 0
  headers = {["Authorization"] = "Bearer __KEY__", ["Content-Type"] = "application/json"}
  if "__IDS__" ~= "" then
    ids = assert(io.open("__IDS__." .. tid, "w"))
    ids:setvbuf("line")
  end
end

function request()
  n = n + 1
  local body = string.format(
    '{"person":{"contacts":[{"kind":"email","value":"r__RUN__-%d-%d@__DOMAIN__"}]},'
    .. '"choices":__CHOICES__,"source":"web_form"}', tid, n)
  return wrk.format("POST", "__PATH__", headers, body)
end

function response(status, headers, body)
  if status ~= 201 then bump("status_" .. status) return end
  bump("created")
  if ids then
    local id = string.match(body, '"person_id":"([^"]+)"')
    if id then ids:write(id, "\n") end
  end
end
"""

#: Appended to LUA_CHECK beside the proof client: each thread appends a byte to ``__PROGRESS__.<thread>``
#: every ``__EVERY__`` answers, so the proof client can pace its writes by the checks answered.
LUA_PROGRESS = r"""
local check_init, check_response = init, response

function init(args)
  check_init(args)
  answered = 0
  progress = assert(io.open("__PROGRESS__." .. tid, "w"))
  progress:setvbuf("no")
end

function response(status, headers, body)
  check_response(status, headers, body)
  answered = answered + 1
  if answered % __EVERY__ == 0 then progress:write(".") end
end
"""

#: POSTs replayed from a file of ``path<TAB>body`` lines; thread t sends lines t, t+T, t+2T, ...
LUA_REPLAY = r"""
function init(args)
  counts = {}
  reqs = {}
  local headers = {["Authorization"] = "Bearer __KEY__", ["Content-Type"] = "application/json"}
  for line in io.lines("__REQUESTS__") do
    local path, body = string.match(line, "^([^\t]+)\t(.*)$")
    reqs[#reqs + 1] = wrk.format("POST", path, headers, body)
  end
  idx = tid
end

function request()
  local r = reqs[idx % #reqs + 1]
  if idx >= #reqs then bump("repeated") end
  idx = idx + __THREADS__
  return r
end

function response(status, headers, body)
  if status ~= 201 and status ~= 200 then bump("status_" .. status) return end
  bump("ok")
end
"""


# --------------------------------------------------------------------------- one backend's run


@dataclass(slots=True)
class Run:
    """One backend's working state: its folder, the servers and what each load gave."""

    backend: str
    plan: Plan
    workdir: Path
    addresses: Addresses
    #: What the run is called in the output: the backend, and which code it ran when comparing.
    label: str = ""
    loads: dict[str, Load] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)

    def script(self, name: str, specific: str, **values: str) -> Path:
        path = self.workdir / f"{name}.lua"
        path.write_text(lua_script(specific, **values))
        return path

    def measure(self, key: str, server: Server, path: str, script: Path, connections: int) -> Load:
        """One wrk load on ``server``; then wait for it to go idle, so in-flight work is not charged on."""
        server.alive(key)
        wrk = Wrk(server.base_url + path, self.plan.load_s, connections, self.plan.threads)
        if key.endswith("warm-up"):
            wrk = Wrk(wrk.url, self.plan.warmup_s, connections, self.plan.threads)
        print(f"  {key}: {wrk.duration_s:.0f} s, {connections} connections ...", flush=True)
        load = run_wrk(key, wrk, script, server.process.pid)
        _settled(server)
        _say_problems(load)
        if not key.endswith("warm-up"):
            self.loads[key] = load
        return load


def _settled(server: Server) -> None:
    waited = settle(server.process.pid)
    if waited > 1:
        print(f"    server busy {waited:.1f} s after the load stopped")


def _say_problems(load: Load) -> None:
    if load.non_2xx or load.socket_errors:
        print(f"    non-2xx {load.non_2xx}, socket errors {load.socket_errors} {load.counts}")


def start_baseline(run: Run, module: str, env: dict[str, str]) -> Server:
    """``granian`` serving ``bench/baselines/<module>.py``'s app, one worker, uvloop as ours."""
    port = free_port()
    command = [
        str(VENV_BIN / "granian"),
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--workers",
        "1",
        "--host",
        HOST,
        "--port",
        str(port),
        "--working-dir",
        str(BASELINES),
        "--log-level",
        "warning",
        f"{module}:app",
    ]
    ready = {"bare": "/json"}.get(module, "/schema/openapi.json")
    server = launch(command, {**os.environ, **env}, run.workdir, module, port, ready)
    run.servers.append(server)
    return server


def measure_baselines(run: Run) -> None:
    """bare ``GET /json``; plain checks on asyncpg and on Redis; the plain write, each started and stopped."""
    database = asyncio.run(create_database())
    run.databases.append(database)
    seeded = run.workdir / "baseline-addresses.tsv"
    expected = run.addresses.expected_allowed
    seeded.write_text("".join(f"{a}\t{int(expected[a])}\n" for a in run.addresses.single))
    env = {
        "BENCH_PG_DSN": PG_URL_TEMPLATE.format(db=database),
        "BENCH_REDIS_URL": REDIS_URL,
        "BENCH_ADDRESSES": str(seeded),
    }
    reads = run.plan.read_connections
    bare = start_baseline(run, "bare", env)
    run.measure("bare", bare, "/json", run.script("bare", LUA_HEALTH), reads)
    stop_server(bare)
    checks = start_baseline(run, "plain_check", env)
    for key, path in (("plain_check_pg", "/check"), ("plain_check_redis", "/check-redis")):
        script = run.script(key, LUA_CHECK, key="-", addresses=str(run.workdir / "single.txt"), path=path)
        run.measure(f"{key} warm-up", checks, path, script, reads)
        run.measure(key, checks, path, script, reads)
    stop_server(checks)
    writes = start_baseline(run, "plain_write", env)
    measure_registrations(run, "plain_write", writes, "/write")
    stop_server(writes)


def measure_registrations(run: Run, key: str, server: Server, path: str, ids: str = "") -> None:
    """A warm-up, then the load: each with its own script, so every request is a person never seen."""
    connections = run.plan.write_connections
    run.measure(
        f"{key} warm-up", server, path, register_script(run, f"{key}-warm", path, server), connections
    )
    run.measure(key, server, path, register_script(run, key, path, server, ids), connections)


def register_script(run: Run, name: str, path: str, server: Server, ids: str = "") -> Path:
    """LUA_REGISTER with a fresh token for this run's addresses (and ``ids`` to write the new ids to)."""
    choices = json.dumps(consent_choices(FIVE_CHOICES), separators=(",", ":"))
    return run.script(
        name,
        LUA_REGISTER,
        key=server.api_key or "-",
        path=path,
        ids=ids,
        run=secrets.token_hex(4),
        domain=DOMAIN,
        choices=choices,
    )


def withdrawal_requests(run: Run, ids_prefix: Path) -> Path:
    """One line per (person, choice) registered by the registration load: choice-major, so that
    concurrent withdrawals are for different people."""
    people = [
        line
        for part in sorted(ids_prefix.parent.glob(ids_prefix.name + ".*"))
        for line in part.read_text().split()
    ]
    if not people:
        raise BenchError("the registration load created nobody to withdraw")
    lines = [
        f"/v1/people/{person}/consents\t{json.dumps(withdrawal(purpose, channel), separators=(',', ':'))}"
        for purpose, channel in FIVE_CHOICES
        for person in people
    ]
    path = run.workdir / "withdrawals.tsv"
    path.write_text("\n".join(lines) + "\n")
    run.extra["withdrawal_targets"] = len(lines)
    return path


#: The second client's own checks (the proof's), beside wrk's 32 connections; and its writer tasks,
#: enough to keep the pace when a registration takes a third of a second.
PROOF_CONNECTIONS = 8
WRITERS = 16


def mixed_load(run: Run, key: str, server: Server, targets: list[list[str]]) -> Load:
    """wrk's check load with a second client beside it (bench/mixed.py) writing one withdrawal or
    registration per ``checks_per_write`` checks answered (wrk's counted from its progress files) and
    checking the addresses it withdraws; the rate is both clients' checks, the proof the second's."""
    server.alive(key)
    plan = run.plan
    progress = run.workdir / f"{key}.progress"
    single = str(run.workdir / "single.txt")
    # Warmed as the check load is: without it the load starts with every answer expired (the bulk
    # loads ran in between), and a miss-bound rate rotates too slowly through the addresses for any
    # answer to be asked again within its lifetime, whatever the writes do.
    warm = run.script(f"{key}-warm", LUA_CHECK, key=server.api_key, addresses=single, path="/v1/checks")
    run.measure(f"{key} warm-up", server, "/v1/checks", warm, plan.read_connections)
    values = {"key": server.api_key, "addresses": single, "path": "/v1/checks", "progress": str(progress)}
    check = run.script(key, LUA_CHECK + LUA_PROGRESS, every=str(PROGRESS_EVERY), **values)
    spec = {
        "base_url": server.base_url,
        "api_key": server.api_key,
        "duration_s": plan.load_s,
        "connections": PROOF_CONNECTIONS,
        "writers": WRITERS,
        "checks_per_write": plan.checks_per_write,
        "progress_files": [f"{progress}.{t}" for t in range(plan.threads)],
        "rotation": run.addresses.single,
        "targets": targets,
        "choices": [list(c) for c in FIVE_CHOICES],
    }
    spec_file = run.workdir / f"{key}.json"
    spec_file.write_text(json.dumps(spec))
    print(f"  {key}: {plan.load_s:.0f} s, {plan.read_connections} + {PROOF_CONNECTIONS} checking", flush=True)
    command = [sys.executable, str(Path(__file__).resolve().parent / "mixed.py"), str(spec_file)]
    with (
        answered_from_memory(run, key, server),
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as second,  # noqa: S603
    ):
        wrk = Wrk(server.base_url + "/v1/checks", plan.load_s, plan.read_connections, plan.threads)
        load = run_wrk(key, wrk, check, server.process.pid)
        output, _ = second.communicate(timeout=plan.load_s + 120)
    raw = parse_marker(output)
    _add_second_client(load, raw)
    run.extra[f"{key}_proof"] = {**raw["proof"], "second_client": raw}
    run.loads[key] = load
    _settled(server)
    _say_problems(load)
    return load


def _answers_by_source(server: Server) -> dict[str, float]:
    """``consent_check_answers_total`` by source from the server's ``/metrics`` (none from a service
    older than the metric, as ``--compare`` may run)."""
    found: dict[str, float] = {}
    for line in httpx.get(server.base_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("consent_check_answers_total{"):
            found[line.split('source="')[1].split('"')[0]] = float(line.split()[-1])
    return found


@contextlib.contextmanager
def answered_from_memory(run: Run, key: str, server: Server) -> Iterator[None]:
    """The share of the single checks answered during the block from the workers' memory."""
    before = _answers_by_source(server)
    yield
    after = _answers_by_source(server)
    memory = after.get("memory", 0.0) - before.get("memory", 0.0)
    database = after.get("database", 0.0) - before.get("database", 0.0)
    if memory + database:
        run.extra[f"{key}_from_memory"] = memory / (memory + database)


def _add_second_client(load: Load, raw: dict[str, Any]) -> None:
    """wrk's figures plus the second client's checks and errors (its latencies are kept apart)."""
    load.requests += raw["requests"]
    load.rps = load.requests / load.duration_s
    for name, count in raw["errors"].items():
        load.errors[name] = load.errors.get(name, 0) + count
    for name, count in raw["counts"].items():
        load.counts[name] = load.counts.get(name, 0) + count
    writes = raw["counts"].get("withdrawals", 0) + raw["counts"].get("registrations", 0)
    load.counts["checks_per_write"] = load.requests // writes if writes else 0


def start_our_service(run: Run, database: str | None, workers: int, api_key: str = "") -> Server:
    env = service_env(run.workdir / "data", database)
    setup = Setup(run.backend, "granian", workers)
    if api_key:  # a restart: the data folder or database holds the key made on the first start
        port = free_port()
        command = [str(SERVICE["command"]), "serve", "--host", HOST, "--port", str(port)]
        command += ["--server", "granian", "--workers", str(workers)]
        server = launch(
            command, _same_keys(env, run), run.workdir, f"server-{workers}w", port, "/health/ready"
        )
        server.api_key = api_key
    else:
        server = start_service(env, run.workdir, setup)
        run.extra["service_env_keys"] = {k: v for k, v in env.items() if k.endswith("_KEY")}
    run.servers.append(server)
    return server


def _same_keys(env: dict[str, str], run: Run) -> dict[str, str]:
    """The restarted server gets the first one's secrets (PostgreSQL's are generated per start)."""
    return {**env, **run.extra.get("service_env_keys", {})}


def measure_service(run: Run, database: str | None) -> None:
    """Our service with one worker, seeded and loaded; then restarted with two for the write loads."""
    api_key, granted = measure_one_worker(run, database)
    half = len(granted) // 2
    two = start_our_service(run, database, workers=2, api_key=api_key)
    measure_registrations(run, "registration_2w", two, "/v1/registrations")
    mixed_load(run, "check_under_writes_2w", two, granted[half:])
    run.extra["server_log_problems_2w"] = log_problems(two)
    stop_server(two)


def measure_one_worker(run: Run, database: str | None) -> tuple[str, list[list[str]]]:
    """Every load on one worker; returns the API key and the granted people, ``[address, id]``, of
    which the first half were withdrawn beside the checks under writes."""
    plan, reads, writes = run.plan, run.plan.read_connections, run.plan.write_connections
    server = start_our_service(run, database, workers=1)
    print(f"  server {server.base_url} (pid {server.process.pid}); seeding {plan.people} people", flush=True)
    seeded = asyncio.run(seed(server, run.addresses, plan.seed_concurrency))
    run.extra["seed"] = seeded.stats
    run.extra["validation"] = asyncio.run(validate(server, run.addresses))
    if run.extra["validation"]["wrong"]:
        print(f"  WRONG ANSWERS before load: {run.extra['validation']['wrong'][:5]}")
    key = server.api_key
    single = str(run.workdir / "single.txt")
    check = run.script("check", LUA_CHECK, key=key, addresses=single, path="/v1/checks")
    run.measure("health", server, "/health/live", run.script("health", LUA_HEALTH), reads)
    run.measure("check warm-up", server, "/v1/checks", check, reads)
    with answered_from_memory(run, "check", server):
        run.measure("check", server, "/v1/checks", check, reads)
    measure_bulk(run, server)
    granted = [[a, seeded.person_ids[a]] for a in run.addresses.granted]
    mixed_load(run, "check_under_writes", server, granted[: len(granted) // 2])
    ids = run.workdir / "registered"
    measure_registrations(run, "registration", server, "/v1/registrations", ids=str(ids))
    requests = str(withdrawal_requests(run, ids))
    replay = run.script("withdraw", LUA_REPLAY, key=key, requests=requests, threads=str(plan.threads))
    run.measure("withdrawal", server, "/v1/people", replay, writes)
    run.measure("health_after", server, "/health/live", run.script("health", LUA_HEALTH), reads)
    run.extra["server_log_problems_1w"] = log_problems(server)
    stop_server(server)
    return key, granted


def measure_bulk(run: Run, server: Server) -> None:
    """Bulk JSON of 10,000 addresses beside the in-process ceiling, and the NDJSON stream."""
    body = run.workdir / "bulk.json"
    body.write_text(json.dumps({"purpose": "marketing", "channel": "email", "to": run.addresses.bulk}))
    script = run.script("bulk", LUA_BULK, key=server.api_key, body=str(body))
    print(f"  in-process ceiling over {len(run.addresses.bulk):,} addresses ...", flush=True)
    run.extra["ceiling"] = in_process_ceiling(run.addresses.bulk, run.plan.ceiling_repeats)
    warm = Wrk(server.base_url + "/v1/checks/bulk", run.plan.warmup_s, 1, 1, timeout_s=60)
    run_wrk("bulk warm-up", warm, script, server.process.pid, BULK_SIZE)
    _settled(server)
    bulk = Wrk(warm.url, run.plan.load_s, 1, 1, timeout_s=60)
    print(f"  bulk 10k: {bulk.duration_s:.0f} s, 1 connection ...", flush=True)
    run.loads["bulk"] = run_wrk("bulk", bulk, script, server.process.pid, BULK_SIZE)
    _settled(server)
    print(f"  NDJSON stream of {run.plan.stream_lines:,} addresses ...", flush=True)
    run.extra["ndjson"] = ndjson_stream(server, run.addresses.bulk, run.plan.stream_lines)
    _settled(server)


def run_backend(backend: str, plan: Plan) -> Run:
    workdir = Path(tempfile.mkdtemp(prefix=f"consent-core-{backend}-"))
    run = Run(
        backend, plan, workdir, Addresses.sized(plan.people, plan.withdrawn, plan.suppressed, plan.unknown)
    )
    (workdir / "single.txt").write_text("\n".join(run.addresses.single) + "\n")
    try:
        measure_baselines(run)
        database = None
        if backend == "postgresql":
            database = asyncio.run(create_database())
            run.databases.append(database)
        measure_service(run, database)
        return run
    finally:
        for server in run.servers:
            stop_server(server)
        for name in run.databases:
            try:
                asyncio.run(drop_database(name))
            except Exception as exc:
                print(f"  could not drop database {name}: {exc!r}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- the targets


@dataclass(frozen=True, slots=True)
class Target:
    """One of issue 15's targets: a figure, how it is worked out, and the bound it must meet."""

    number: str
    name: str
    figure: Callable[[Run], float]
    bound: float
    at_least: bool = True
    unit: str = ""

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value < self.bound

    def describe(self) -> str:
        return f"{'≥' if self.at_least else '<'} {self.bound:g}{self.unit}"


def _rps(run: Run, key: str) -> float:
    return run.loads[key].rps


def _health(run: Run) -> float:
    """The service's ``/health/live``: the mean of its runs before and after the other loads."""
    return statistics.fmean([_rps(run, "health"), _rps(run, "health_after")])


def _ratio(numerator: str, denominator: str) -> Callable[[Run], float]:
    def figure(run: Run) -> float:
        below = _health(run) if denominator == "health" else _rps(run, denominator)
        return _rps(run, numerator) / below

    return figure


def _stale(run: Run) -> float:
    keys = ("check_under_writes_proof", "check_under_writes_2w_proof")
    return float(sum(run.extra[key]["stale_allows"] for key in keys))


def _p99(run: Run) -> float:
    return run.loads["check"].latency_ms["p99"]


def _bulk_over_ceiling(run: Run) -> float:
    return run.loads["bulk"].addresses_per_s / float(run.extra["ceiling"]["addresses_per_s"])


def _ndjson_over_json(run: Run) -> float:
    return float(run.extra["ndjson"]["addresses_per_s"]) / run.loads["bulk"].addresses_per_s


TARGETS = (
    Target("1", "check / health", _ratio("check", "health"), 0.5),
    Target("1", "check / bare", _ratio("check", "bare"), 0.25),
    Target("1", "check p99", _p99, 10, at_least=False, unit=" ms"),
    Target("2", "check under writes / health", _ratio("check_under_writes", "health"), 0.4),
    Target("2", "stale allows (1 and 2 workers)", _stale, 1, at_least=False),
    Target("3", "health / bare", _ratio("health", "bare"), 0.7),
    Target("4", "registration / plain write", _ratio("registration", "plain_write"), 0.5),
    Target("4", "withdrawal / plain write", _ratio("withdrawal", "plain_write"), 0.5),
    Target("4", "registration 2 workers / 1", _ratio("registration_2w", "registration"), 1.6),
    Target("5", "bulk 10k / in-process ceiling", _bulk_over_ceiling, 0.5),
    Target("5", "NDJSON / JSON bulk", _ndjson_over_json, 0.8),
)

#: Figures beside the targets, to read them by: how the service's check compares with the plain ones.
CONTEXT = (
    ("check / plain asyncpg check", _ratio("check", "plain_check_pg")),
    ("check / plain Redis check", _ratio("check", "plain_check_redis")),
    ("check under writes 2w / health 1w", _ratio("check_under_writes_2w", "health")),
    ("health drift, after / before", _ratio("health_after", "health")),
)


def evaluate(run: Run) -> list[dict[str, Any]]:
    """Each target's figure, its bound and whether it was met (or why it could not be worked out)."""
    rows: list[dict[str, Any]] = []
    for target in TARGETS:
        row: dict[str, Any] = {"target": target.number, "name": target.name, "bound": target.describe()}
        try:
            value = target.figure(run)
        except (KeyError, ZeroDivisionError) as exc:
            rows.append({**row, "value": None, "missing": repr(exc)})
            continue
        rows.append({**row, "value": value, "met": target.met(value)})
    return rows


# --------------------------------------------------------------------------- reporting


def print_loads(runs: Sequence[Run]) -> None:
    header = (
        f"{'backend':<12}{'load':<24}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'degr.':>7}{'srv CPU':>9}{'ms CPU/req':>11}{'RSS MiB':>9}{'RSS +':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        for load in run.loads.values():
            cpu = f"{load.server_cpu_pct:.0f}%" if load.server_cpu_pct is not None else "-"
            per = "-" if load.cpu_ms_per_request is None else f"{load.cpu_ms_per_request:.2f}"
            rss = load.server_rss_mib
            print(
                f"{run.label or run.backend:<12}{load.name:<24}{load.connections:>6}{load.rps:>9,.0f}"
                f"{load.latency_ms['p50']:>9.1f}{load.latency_ms['p99']:>9.1f}"
                f"{load.non_2xx + load.socket_errors:>8}{load.counts.get('degraded', 0):>7}{cpu:>9}{per:>11}"
                f"{rss.get('peak', 0):>9.0f}{rss.get('end', 0) - rss.get('start', 0):>+7.1f}"
            )


def print_targets(runs: Sequence[Run]) -> None:
    for run in runs:
        print(f"\n{run.label or run.backend}: issue 15's targets (ratios within this run)")
        for row in run.extra["targets"]:
            if row["value"] is None:
                print(f"  ({row['target']}) {row['name']:<48} not measured: {row['missing']}")
                continue
            verdict = "met" if row["met"] else "NOT met"
            print(
                f"  ({row['target']}) {row['name']:<48} {row['value']:>9.3f}   {row['bound']:<10} {verdict}"
            )
        for name, figure in CONTEXT:
            try:
                print(f"      {name:<48} {figure(run):>9.3f}")
            except (KeyError, ZeroDivisionError):
                continue
        for key in ("check", "check_under_writes", "check_under_writes_2w"):
            if f"{key}_from_memory" in run.extra:
                share = run.extra[f"{key}_from_memory"]
                print(f"      {key}: {share:.0%} of the checks answered from memory")
        for key in ("check_under_writes", "check_under_writes_2w"):
            if f"{key}_proof" in run.extra:
                proof, counts = run.extra[f"{key}_proof"], run.loads[key].counts
                print(
                    f"      {key}: {counts.get('registrations', 0)} registrations,"
                    f" {proof['withdrawals_acknowledged']} withdrawals (a write per"
                    f" {counts.get('checks_per_write', 0)} checks),"
                    f" {proof['checks_of_withdrawn_after_ack']} checks of them after the ack,"
                    f" {proof['stale_allows']} stale allows {proof['stale_examples'][:3] or ''}"
                )
        problems = run.extra.get("server_log_problems_1w", []) + run.extra.get("server_log_problems_2w", [])
        if problems:
            print(f"      server log problems: {problems[:5]}")


def write_results(runs: Sequence[Run], failures: dict[str, str], plan: Plan, started: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"core-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    document = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "cores": os.cpu_count(),
        "plan": asdict(plan),
        "backends": {
            (run.label or run.backend): {
                "loads": {k: {**asdict(v), "non_2xx": v.non_2xx} for k, v in run.loads.items()},
                **{k: v for k, v in run.extra.items() if k != "service_env_keys"},
            }
            for run in runs
        },
        "failures": failures,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    return path


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="short loads, a smaller seed (~3 minutes for both)"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="CHECKOUT",
        help="also run another checkout's service (its .venv, made by `make install`) before this one's,"
        " backend by backend in this run, for a before/after table",
    )
    args = parser.parse_args(argv)
    services = [("", VENV_BIN / "consent-service")]
    if args.compare is not None:
        before = args.compare.resolve() / ".venv" / "bin" / "consent-service"
        if not before.exists():
            parser.error(f"{before} does not exist: run `make install` in {args.compare} first")
        services = [("before", before), ("after", VENV_BIN / "consent-service")]
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk)")
    unwind_on_sigterm()
    plan = Plan.quick() if args.quick else Plan.full()
    started = datetime.now(UTC)
    runs: list[Run] = []
    failures: dict[str, str] = {}
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        for which, command in services:
            label = f"{backend} {which}".strip()
            print(f"{label}:", flush=True)
            SERVICE["command"] = command
            try:
                run = run_backend(backend, plan)
            except (BenchError, httpx.HTTPError, OSError, asyncpg.PostgresError) as exc:
                failures[label] = f"{type(exc).__name__}: {exc}"
                print(f"  {label} failed: {failures[label][:1500]}", file=sys.stderr)
                continue
            run.label = label
            run.extra["targets"] = evaluate(run)
            runs.append(run)
    print()
    print_loads(runs)
    print_targets(runs)
    path = write_results(runs, failures, plan, started)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    print(f"\nresults: {path.relative_to(ROOT)}  (total {elapsed:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
