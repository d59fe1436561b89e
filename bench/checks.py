"""Benchmark of the running server's check endpoints, as ratios against baselines taken in the same run.

What it measures (see bench/README.md and shared/PERFORMANCE.md, "What fast means here"):

* single check, ``POST /v1/checks``: requests/s and p50/p99 latency, next to ``GET /health/live`` on the
  same server in the same run (measured before and after the other loads; their mean is the baseline);
* bulk check, ``POST /v1/checks/bulk`` with 10,000 addresses: addresses/s and seconds per request,
  against the health endpoint's requests/s and against an in-process ceiling (the same addresses
  normalised and fingerprinted in this process, no HTTP, no database).

Each against an embedded SQLite server and a PostgreSQL-backed one (a throwaway database on
127.0.0.1:5432). Load comes from ``wrk`` in a separate process; without wrk, from a Python (httpx)
client in a separate process, which limits the figures and is said so in the output. Traffic goes to
127.0.0.1 only, every load is bounded in time, and servers, databases and temporary folders are removed
on the way out, error or not.

    .venv/bin/python bench/checks.py [--quick] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from harness import (
    DOMAIN,
    MARKER,
    RESULTS_DIR,
    ROOT,
    BenchError,
    Load,
    RssSampler,
    Server,
    Setup,
    Wrk,
    create_database,
    drop_database,
    load_from,
    log_problems,
    lua_script,
    parse_marker,
    registration,
    run_measured,
    service_env,
    settle,
    start_service,
    stop_server,
    unwind_on_sigterm,
    withdrawal,
)

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import ContactPoint, normalise_email
from consent_service.domain.fingerprints import Fingerprinter
from tests.support.ndjson_client import post_ndjson

BULK_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and durations of one run; ``--quick`` shortens the durations and the seed."""

    health_s: float
    health_after_s: float
    check_s: float
    bulk_s: float
    warmup_s: float
    people: int
    withdrawn: int
    suppressed: int
    unknown_single: int
    connections: int
    threads: int
    bulk_connections: int
    ceiling_repeats: int
    stream_lines: int = 1_000_000
    seed_concurrency: int = 8

    @classmethod
    def full(cls) -> Plan:
        return cls(
            health_s=10,
            health_after_s=5,
            check_s=10,
            bulk_s=10,
            warmup_s=2,
            people=2000,
            withdrawn=300,
            suppressed=100,
            unknown_single=1000,
            connections=32,
            threads=2,
            bulk_connections=1,
            ceiling_repeats=5,
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            health_s=3,
            health_after_s=2,
            check_s=3,
            bulk_s=4,
            warmup_s=1,
            people=300,
            withdrawn=50,
            suppressed=20,
            unknown_single=200,
            connections=32,
            threads=2,
            bulk_connections=1,
            ceiling_repeats=2,
            stream_lines=100_000,
        )


@dataclass(frozen=True, slots=True)
class Addresses:
    """The seeded population and the lists the loads rotate through, with the answer each should get."""

    granted: list[str]
    withdrawn: list[str]
    suppressed: list[str]
    single: list[str]
    bulk: list[str]
    expected_allowed: dict[str, bool]

    @classmethod
    def make(cls, plan: Plan) -> Addresses:
        return cls.sized(plan.people, plan.withdrawn, plan.suppressed, plan.unknown_single)

    @classmethod
    def sized(cls, n_people: int, n_withdrawn: int, n_suppressed: int, n_unknown: int) -> Addresses:
        """``n_people`` granted people, the first ``n_withdrawn`` withdrawn; the singles add ``n_unknown``."""
        people = [f"p{i}@{DOMAIN}" for i in range(n_people)]
        withdrawn = people[:n_withdrawn]
        granted = people[n_withdrawn:]
        suppressed = [f"s{i}@{DOMAIN}" for i in range(n_suppressed)]
        unknown = [f"u{i}@{DOMAIN}" for i in range(max(n_unknown, BULK_SIZE))]
        rng = random.Random(20261122)
        single = people + suppressed + unknown[:n_unknown]
        rng.shuffle(single)
        bulk = (people + suppressed + unknown)[:BULK_SIZE]
        rng.shuffle(bulk)
        expected = dict.fromkeys(people + suppressed + unknown, False)
        expected.update(dict.fromkeys(granted, True))
        return cls(granted, withdrawn, suppressed, single, bulk, expected)


@dataclass(slots=True)
class BackendResult:
    backend: str
    seed: dict[str, Any]
    validation: dict[str, Any]
    loads: dict[str, Load]
    server_log_problems: list[str]
    ceiling: dict[str, float]
    stream: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- load generators

LUA_HEALTH = r"""
counts = {}
"""

LUA_CHECK = r"""
function init(args)
  counts = {}
  reqs = {}
  local headers = {["Authorization"] = "Bearer __KEY__", ["Content-Type"] = "application/json"}
  for line in io.lines("__ADDRESSES__") do
    local body = '{"purpose":"marketing","channel":"email","to":"' .. line .. '"}'
    reqs[#reqs + 1] = wrk.format("POST", "__PATH__", headers, body)
  end
  idx = (tid * 997) % #reqs
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status ~= 200 then bump("status_" .. status) return end
  if string.find(body, '"allowed":true', 1, true) then bump("allowed") else bump("denied") end
  if string.find(body, '"degraded":true', 1, true) then bump("degraded") end
  local reason = string.match(body, '"reason":"([%w_]+)"')
  bump("reason_" .. (reason or "missing"))
end
"""

LUA_BULK = r"""
function init(args)
  counts = {}
  local f = assert(io.open("__BODY__", "rb"))
  wrk.method = "POST"
  wrk.path = "/v1/checks/bulk"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Authorization"] = "Bearer __KEY__"
  wrk.headers["Content-Type"] = "application/json"
end

function response(status, headers, body)
  if status ~= 200 then bump("status_" .. status) return end
  bump("ok")
  if string.find(body, '"store_unavailable"', 1, true) then bump("degraded") end
end
"""


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What to send: read by wrk's Lua script or by the Python client (``--python-client``)."""

    kind: str  # health | check | bulk
    base_url: str
    api_key: str
    duration_s: float
    connections: int
    threads: int
    timeout_s: float
    addresses_file: str = ""
    body_file: str = ""


def _lua_script(spec: LoadSpec) -> str:
    specific = {"health": LUA_HEALTH, "check": LUA_CHECK, "bulk": LUA_BULK}[spec.kind]
    return lua_script(
        specific,
        key=spec.api_key,
        addresses=spec.addresses_file,
        body=spec.body_file,
        path=_target_path(spec.kind),
    )


def _target_path(kind: str) -> str:
    return {"health": "/health/live", "check": "/v1/checks", "bulk": "/v1/checks/bulk"}[kind]


def stream_check(server: Server, addresses: Sequence[str], lines: int) -> dict[str, float]:
    """NDJSON bulk check: ``lines`` addresses in one streamed request, answers read as they arrive.

    The client runs in this process (it competes for the two cores, so the figure is a floor); the
    server's resident memory is sampled throughout to show it stays flat however long the stream.
    """

    def body() -> Iterator[bytes]:
        batch: list[bytes] = []
        for i in range(lines):
            batch.append(b'{"to":"%s"}\n' % addresses[i % len(addresses)].encode())
            if len(batch) == 2000:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.base_url}/v1/checks/bulk?purpose=marketing&channel=email"
    counts = {"answered": 0, "allowed": 0}

    def count(line: bytes) -> None:
        counts["answered"] += 1
        counts["allowed"] += b'"allowed":true' in line

    started = time.perf_counter()
    with RssSampler(server.process.pid) as rss:
        answer = asyncio.run(post_ndjson(url, body(), headers, on_line=count))
    if answer.status != 200:
        raise BenchError(f"NDJSON bulk answered {answer.status}: {answer.body[:500]!r}")
    answered, allowed = counts["answered"], counts["allowed"]
    elapsed = time.perf_counter() - started
    if answered != lines:
        raise BenchError(f"NDJSON bulk answered {answered:,} lines for {lines:,}")
    return {
        "lines": lines,
        "seconds": elapsed,
        "addresses_per_s": lines / elapsed,
        "allowed": allowed,
        "server_rss_before_mib": rss.mib()["start"],
        "server_rss_peak_mib": rss.mib()["peak"],
        "server_rss_growth_mib": rss.mib()["peak"] - rss.mib()["start"],
    }


def run_load(
    name: str, spec: LoadSpec, workdir: Path, client: str, server_pid: int, per_request: int = 1
) -> Load:
    """Run one bounded load in a separate process and return its figures."""
    if client == "wrk":
        script = workdir / f"{spec.kind}.lua"
        script.write_text(_lua_script(spec))
        wrk = Wrk(spec.base_url + _target_path(spec.kind), spec.duration_s, spec.connections, spec.threads)
        command = wrk.command(script)
    else:
        spec_file = workdir / f"{spec.kind}.spec.json"
        spec_file.write_text(json.dumps(asdict(spec)))
        command = [sys.executable, str(Path(__file__).resolve()), "--python-client", str(spec_file)]
    measured = run_measured(command, spec.duration_s + spec.timeout_s + 60, server_pid)
    return load_from(name, parse_marker(measured.stdout), measured, spec.connections, per_request)


async def _python_client(spec: LoadSpec) -> dict[str, Any]:
    """The fallback load generator: ``connections`` asyncio workers on one httpx client, time-bounded."""
    url = spec.base_url + _target_path(spec.kind)
    headers = {"Authorization": f"Bearer {spec.api_key}", "Content-Type": "application/json"}
    bodies: list[bytes] = []
    if spec.kind == "check":
        for line in Path(spec.addresses_file).read_text().split():
            bodies.append(json.dumps({"purpose": "marketing", "channel": "email", "to": line}).encode())
    elif spec.kind == "bulk":
        bodies.append(Path(spec.body_file).read_bytes())
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    counts: dict[str, int] = {}

    def bump(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    limits = httpx.Limits(max_connections=spec.connections, max_keepalive_connections=spec.connections)
    started = time.perf_counter()
    deadline = started + spec.duration_s
    async with httpx.AsyncClient(limits=limits, timeout=spec.timeout_s) as client:

        async def worker(offset: int) -> None:
            index = offset
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    if bodies:
                        index = (index + 1) % len(bodies)
                        response = await client.post(url, content=bodies[index], headers=headers)
                    else:
                        response = await client.get(url)
                except httpx.TimeoutException:
                    errors["timeout"] += 1
                    continue
                except httpx.ConnectError:
                    errors["connect"] += 1
                    continue
                except httpx.TransportError:
                    errors["read"] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if not 200 <= response.status_code < 400:
                    errors["status"] += 1
                if spec.kind == "health":
                    continue
                if response.status_code != 200:
                    bump(f"status_{response.status_code}")
                elif spec.kind == "bulk":
                    bump("ok")
                    if b'"store_unavailable"' in response.content:
                        bump("degraded")
                else:
                    answer = response.json()
                    bump("allowed" if answer.get("allowed") else "denied")
                    if answer.get("degraded"):
                        bump("degraded")
                    bump(f"reason_{answer.get('reason', 'missing')}")

        await asyncio.gather(*(worker(i * 997) for i in range(spec.connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1e6

    return {
        "requests": len(latencies) + sum(v for k, v in errors.items() if k != "status"),
        "duration_us": elapsed * 1e6,
        "errors": errors,
        "latency_us": {
            "mean": statistics.fmean(ordered) * 1e6,
            "stdev": (statistics.pstdev(ordered) * 1e6) if len(ordered) > 1 else 0.0,
            "max": ordered[-1] * 1e6,
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
        },
        "counts": counts,
    }


def python_client_main(spec_file: str) -> int:
    spec = LoadSpec(**json.loads(Path(spec_file).read_text()))
    print(MARKER + json.dumps(asyncio.run(_python_client(spec))), flush=True)
    return 0


# --------------------------------------------------------------------------- server and database


# --------------------------------------------------------------------------- seeding and validation


async def _bounded(
    client: httpx.AsyncClient, concurrency: int, calls: Sequence[tuple[str, dict[str, Any], str]]
) -> list[dict[str, Any]]:
    """POST each (path, body, idempotency key), ``concurrency`` at a time, retrying transient failures."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        async with semaphore:
            last = ""
            for attempt in range(3):
                try:
                    response = await client.post(path, json=body, headers={"Idempotency-Key": key})
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code in (200, 201):
                        result: dict[str, Any] = response.json()
                        return result
                    last = f"{response.status_code} {response.text[:300]}"
                    if response.status_code < 500 and response.status_code != 409:
                        break
                await asyncio.sleep(0.2 * (attempt + 1))
            raise BenchError(f"seeding {path} failed: {last}")

    return await asyncio.gather(*(one(path, body, key) for path, body, key in calls))


@dataclass(frozen=True, slots=True)
class Seeded:
    """What seeding did (rates, counts) and each seeded address's person id."""

    stats: dict[str, Any]
    person_ids: dict[str, str]


async def seed(server: Server, addresses: Addresses, concurrency: int) -> Seeded:
    """People with marketing-by-email consent, some then withdrawn, and some suppressed unknown addresses."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    people = addresses.withdrawn + addresses.granted
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as client:
        started = time.perf_counter()
        registered = await _bounded(
            client,
            concurrency,
            [("/v1/registrations", registration(a), f"bench-reg-{a}") for a in people],
        )
        registration_s = time.perf_counter() - started
        withdraw = withdrawal()
        started = time.perf_counter()
        await _bounded(
            client,
            concurrency,
            [
                (f"/v1/people/{r['person_id']}/consents", withdraw, f"bench-wd-{r['person_id']}")
                for r in registered[: len(addresses.withdrawn)]
            ],
        )
        withdrawal_s = time.perf_counter() - started
        await _bounded(
            client,
            concurrency,
            [
                (
                    "/v1/suppressions",
                    {"to": a, "channel": "email", "reason": "unsubscribed"},
                    f"bench-sup-{a}",
                )
                for a in addresses.suppressed
            ],
        )
    stats = {
        "people": len(people),
        "withdrawn": len(addresses.withdrawn),
        "suppressed": len(addresses.suppressed),
        "registrations_per_s": len(people) / registration_s,
        "withdrawals_per_s": len(addresses.withdrawn) / withdrawal_s if addresses.withdrawn else 0.0,
        "concurrency": concurrency,
    }
    return Seeded(stats, {a: r["person_id"] for a, r in zip(people, registered, strict=True)})


async def validate(server: Server, addresses: Addresses, sample: int = 60) -> dict[str, Any]:
    """Unloaded correctness: a sample of single checks and one bulk check against the expected answers."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    wrong: list[str] = []
    single_reasons: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as client:
        picks = (
            addresses.granted[: sample // 3]
            + addresses.withdrawn[: sample // 6]
            + addresses.suppressed[: sample // 6]
            + [a for a in addresses.single if a.startswith("u")][: sample // 3]
        )
        for address in picks:
            response = await client.post(
                "/v1/checks", json={"purpose": "marketing", "channel": "email", "to": address}
            )
            if response.status_code != 200:
                wrong.append(f"check {address}: HTTP {response.status_code}")
                continue
            answer = response.json()
            single_reasons[answer["reason"]] = single_reasons.get(answer["reason"], 0) + 1
            if answer["allowed"] is not addresses.expected_allowed[address] or answer.get("degraded"):
                wrong.append(f"check {address}: {answer['allowed']} {answer['reason']}")
        started = time.perf_counter()
        response = await client.post(
            "/v1/checks/bulk", json={"purpose": "marketing", "channel": "email", "to": addresses.bulk}
        )
        bulk_s = time.perf_counter() - started
        bulk_reasons: dict[str, int] = {}
        if response.status_code != 200:
            wrong.append(f"bulk: HTTP {response.status_code} {response.text[:300]}")
        else:
            results = response.json()["results"]
            if [r["to"] for r in results] != addresses.bulk:
                wrong.append("bulk: results not in input order")
            mismatches = 0
            for result in results:
                bulk_reasons[result["reason"]] = bulk_reasons.get(result["reason"], 0) + 1
                if result["allowed"] is not addresses.expected_allowed[result["to"]]:
                    mismatches += 1
            if mismatches:
                wrong.append(
                    f"bulk: {mismatches} of {len(results)} answers differ from the expected allowed flag"
                )
    return {
        "single_sample": len(picks),
        "single_reasons": single_reasons,
        "bulk_reasons": bulk_reasons,
        "bulk_cold_s": bulk_s,
        "expected_bulk_allowed": sum(addresses.expected_allowed[a] for a in addresses.bulk),
        "wrong": wrong,
    }


# --------------------------------------------------------------------------- in-process ceiling


def in_process_ceiling(addresses: Sequence[str], repeats: int) -> dict[str, float]:
    """The 10,000 addresses through normalise_email + Fingerprinter + a dict lookup here: no HTTP, JSON or
    database (half of them are in the dict, as a suppression list would hold them)."""
    fingerprint = Fingerprinter(secrets.token_bytes(32))
    held = {fingerprint(ContactPoint(ContactKind.EMAIL, normalise_email(a))): True for a in addresses[::2]}

    def timed(work: Callable[[], object]) -> float:
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    def both() -> None:
        for address in addresses:
            held.get(fingerprint(ContactPoint(ContactKind.EMAIL, normalise_email(address))), False)

    def normalise_only() -> None:
        for address in addresses:
            normalise_email(address)

    points = [ContactPoint(ContactKind.EMAIL, a) for a in addresses]

    def fingerprint_only() -> None:
        for point in points:
            fingerprint(point)

    n = len(addresses)
    total = timed(both)
    return {
        "addresses": n,
        "repeats": repeats,
        "addresses_per_s": n / total,
        "seconds_per_10k": total * BULK_SIZE / n,
        "normalise_only_per_s": n / timed(normalise_only),
        "fingerprint_only_per_s": n / timed(fingerprint_only),
    }


# --------------------------------------------------------------------------- one backend


def run_backend(setup: Setup, plan: Plan, addresses: Addresses, client: str) -> BackendResult:
    backend = setup.backend
    workdir = Path(tempfile.mkdtemp(prefix=f"consent-bench-{backend}-"))
    database: str | None = None
    server: Server | None = None
    try:
        if backend == "postgresql":
            database = asyncio.run(create_database())
            print(f"  database {database}")
        server = start_service(service_env(workdir / "data", database), workdir, setup)
        print(f"  server {server.base_url} (pid {server.process.pid}); seeding {plan.people} people ...")
        seeded = asyncio.run(seed(server, addresses, plan.seed_concurrency)).stats
        validation = asyncio.run(validate(server, addresses))
        if validation["wrong"]:
            print(f"  WRONG ANSWERS before load: {validation['wrong'][:5]}")
        addresses_file = workdir / "single.txt"
        addresses_file.write_text("\n".join(addresses.single) + "\n")
        body_file = workdir / "bulk.json"
        body_file.write_text(json.dumps({"purpose": "marketing", "channel": "email", "to": addresses.bulk}))

        def spec(kind: str, duration: float, connections: int, threads: int, timeout: float) -> LoadSpec:
            assert server is not None
            return LoadSpec(
                kind=kind,
                base_url=server.base_url,
                api_key=server.api_key,
                duration_s=duration,
                connections=connections,
                threads=threads,
                timeout_s=timeout,
                addresses_file=str(addresses_file),
                body_file=str(body_file),
            )

        def load(name: str, s: LoadSpec, per_request: int = 1) -> Load:
            assert server is not None
            if server.process.poll() is not None:
                raise BenchError(f"the server died before {name}:\n{server.log_tail()}")
            print(f"  {name}: {s.duration_s:.0f} s, {s.connections} connections ...", flush=True)
            result = run_load(name, s, workdir, client, server.process.pid, per_request)
            # Requests still in flight when the client stops keep the server busy: wait for it to idle,
            # or they would be charged to the next measurement.
            waited = settle(server.process.pid)
            if waited > 1:
                print(f"    server busy {waited:.1f} s after the load stopped")
            if result.non_2xx or result.socket_errors:
                print(f"    non-2xx {result.non_2xx}, socket errors {result.socket_errors}")
            return result

        c, t = plan.connections, plan.threads
        loads: dict[str, Load] = {}
        loads["health_before"] = load("health (before)", spec("health", plan.health_s, c, t, 5))
        load("check warm-up", spec("check", plan.warmup_s, c, t, 5))
        loads["check"] = load("check", spec("check", plan.check_s, c, t, 5))
        bulk_c = plan.bulk_connections
        # The ceiling is taken here, on an idle server, next to the bulk load it is compared with.
        print(f"  in-process ceiling over {len(addresses.bulk):,} addresses ...", flush=True)
        ceiling = in_process_ceiling(addresses.bulk, plan.ceiling_repeats)
        load("bulk warm-up", spec("bulk", plan.warmup_s, 1, 1, 60), BULK_SIZE)
        loads["bulk"] = load("bulk 10k", spec("bulk", plan.bulk_s, bulk_c, 1, 60), BULK_SIZE)
        print(f"  NDJSON stream of {plan.stream_lines:,} addresses ...", flush=True)
        stream = stream_check(server, addresses.bulk, plan.stream_lines)
        settle(server.process.pid)
        loads["health_after"] = load("health (after)", spec("health", plan.health_after_s, c, t, 5))
        if server.process.poll() is not None:
            raise BenchError(f"the server died during the load:\n{server.log_tail()}")
        return BackendResult(setup.label, seeded, validation, loads, log_problems(server), ceiling, stream)
    finally:
        if server is not None:
            stop_server(server)
        if database is not None:
            try:
                asyncio.run(drop_database(database))
            except Exception as exc:
                print(f"  could not drop database {database}: {exc!r}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


def compute_ratios(result: BackendResult) -> None:
    loads, ceiling = result.loads, result.ceiling
    health_rps = statistics.fmean([loads["health_before"].rps, loads["health_after"].rps])
    check, bulk = loads["check"], loads["bulk"]
    result.ratios = {
        "health_rps_baseline": health_rps,
        "health_drift": loads["health_after"].rps / loads["health_before"].rps - 1,
        "check_rps_over_health_rps": check.rps / health_rps,
        "check_p50_over_health_p50": check.latency_ms["p50"] / loads["health_before"].latency_ms["p50"],
        "check_p99_over_health_p99": check.latency_ms["p99"] / loads["health_before"].latency_ms["p99"],
        "bulk_addresses_per_s_over_health_rps": bulk.addresses_per_s / health_rps,
        "bulk_addresses_per_s_over_in_process_ceiling": bulk.addresses_per_s / ceiling["addresses_per_s"],
        "stream_addresses_per_s_over_health_rps": result.stream["addresses_per_s"] / health_rps,
        "stream_addresses_per_s_over_bulk_addresses_per_s": result.stream["addresses_per_s"]
        / bulk.addresses_per_s,
    }


# --------------------------------------------------------------------------- reporting


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def print_report(results: Sequence[BackendResult], client: str, failures: dict[str, str]) -> None:
    print()
    if client != "wrk":
        print("NOTE: the load client is Python (httpx): it limits the figures; install wrk for real ones.")
    header = (
        f"{'setup':<22}{'load':<17}{'conns':>6}{'req/s':>10}{'addr/s':>11}{'p50':>11}{'p99':>11}"
        f"{'non-2xx':>9}{'sock err':>9}{'degraded':>9}{'srv CPU':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        for load in result.loads.values():
            bulk = load.addresses_per_request > 1
            unit, scale = ("s", 1000.0) if bulk else ("ms", 1.0)
            cpu = f"{load.server_cpu_pct:.0f}%" if load.server_cpu_pct is not None else "-"
            print(
                f"{result.backend:<22}{load.name:<17}{load.connections:>6}"
                f"{_fmt(load.rps, 1 if bulk else 0):>10}"
                f"{_fmt(load.addresses_per_s) if bulk else '':>11}"
                f"{load.latency_ms['p50'] / scale:>9.{3 if bulk else 2}f}{unit:>2}"
                f"{load.latency_ms['p99'] / scale:>9.{3 if bulk else 2}f}{unit:>2}"
                f"{load.non_2xx:>9}{load.socket_errors:>9}{load.counts.get('degraded', 0):>9}{cpu:>9}"
            )
    print()
    for result in results:
        ceiling = result.ceiling
        print(
            f"{result.backend:<22}in-process ceiling (normalise_email + Fingerprinter + dict, "
            f"{ceiling['addresses']:,.0f} addresses, median of {ceiling['repeats']:.0f}):"
            f" {_fmt(ceiling['addresses_per_s'])} addresses/s ({ceiling['seconds_per_10k']:.3f} s per 10k;"
            f" normalise alone {_fmt(ceiling['normalise_only_per_s'])}/s,"
            f" fingerprint alone {_fmt(ceiling['fingerprint_only_per_s'])}/s)"
        )
    print()
    print("ratios (same server, same run):")
    for result in results:
        r = result.ratios
        bulk_load = result.loads["bulk"]
        print(
            f"  {result.backend:<22} check/health req/s {r['check_rps_over_health_rps']:.3f}"
            f"  (p50 x{r['check_p50_over_health_p50']:.1f}, p99 x{r['check_p99_over_health_p99']:.1f};"
            f" health drift before->after {r['health_drift']:+.0%})"
        )
        print(
            f"  {'':<22} bulk addr/s / health req/s {r['bulk_addresses_per_s_over_health_rps']:.2f};"
            f"  bulk addr/s / in-process ceiling {r['bulk_addresses_per_s_over_in_process_ceiling']:.2f};"
            f"  {bulk_load.latency_ms['mean'] / 1000:.3f} s per bulk request"
            f" (mean, {bulk_load.connections} connections),"
            f" {1 / bulk_load.rps if bulk_load.rps else float('nan'):.3f} s of server time per request"
        )
        st = result.stream
        print(
            f"  {'':<22} NDJSON {st['lines']:,.0f} lines: {st['addresses_per_s']:,.0f} addr/s"
            f" (/ health req/s {r['stream_addresses_per_s_over_health_rps']:.2f},"
            f" / JSON bulk {r['stream_addresses_per_s_over_bulk_addresses_per_s']:.2f});"
            f" server RSS {st['server_rss_before_mib']:.0f}"
            f" -> peak {st['server_rss_peak_mib']:.0f} MiB (+{st['server_rss_growth_mib']:.1f})"
        )
    print()
    for result in results:
        check = result.loads["check"]
        reasons = {
            k.removeprefix("reason_"): v for k, v in sorted(check.counts.items()) if k.startswith("reason_")
        }
        statuses = {k: v for k, v in check.counts.items() if k.startswith("status_")}
        print(f"  {result.backend}: check answers under load {reasons} {statuses or ''}")
        print(
            f"  {result.backend}: seed {result.seed['registrations_per_s']:.0f} registrations/s,"
            f" {result.seed['withdrawals_per_s']:.0f} withdrawals/s"
            f" ({result.seed['concurrency']} concurrent);"
            f" unloaded bulk of 10k took {result.validation['bulk_cold_s']:.3f} s"
        )
        if result.validation["wrong"]:
            print(f"  {result.backend}: WRONG answers (unloaded): {result.validation['wrong'][:10]}")
        if result.server_log_problems:
            print(f"  {result.backend}: server log problems: {result.server_log_problems[:5]}")
    for backend, error in failures.items():
        print(f"  {backend}: FAILED: {error.splitlines()[0] if error else ''}")


def write_results(
    plan: Plan,
    client: str,
    results: Sequence[BackendResult],
    failures: dict[str, str],
    started: datetime,
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    wrk = shutil.which("wrk")
    document = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "client": "wrk" if client == "wrk" else "python-httpx (limits the figures)",
        "wrk": wrk,
        "plan": asdict(plan),
        "backends": {
            r.backend: {
                "seed": r.seed,
                "validation": r.validation,
                "loads": {
                    k: {**asdict(v), "non_2xx": v.non_2xx, "addresses_per_s": v.addresses_per_s}
                    for k, v in r.loads.items()
                },
                "in_process_ceiling": r.ceiling,
                "ndjson_stream": r.stream,
                "ratios": r.ratios,
                "server_log_problems": r.server_log_problems,
            }
            for r in results
        },
        "failures": failures,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


# --------------------------------------------------------------------------- main


def _attempts(
    backend: str, attempts: int, retry_wait: float, work: Callable[[], BackendResult]
) -> BackendResult | str:
    """Run a backend, retrying after a pause if the server (being edited by others) breaks mid-run."""
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except (BenchError, httpx.HTTPError, OSError, asyncpg.PostgresError) as exc:
            last = f"{type(exc).__name__}: {exc}"
            print(f"  {backend} attempt {attempt} failed: {last[:1500]}", file=sys.stderr)
            if attempt < attempts:
                print(f"  waiting {retry_wait:.0f} s before retrying {backend} ...", file=sys.stderr)
                time.sleep(retry_wait)
    return last


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short durations and a smaller seed")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--servers", default="granian,uvicorn", help="ASGI servers, comma-separated")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    parser.add_argument("--attempts", type=int, default=2, help="tries per backend if the server breaks")
    parser.add_argument("--retry-wait", type=float, default=60, help="seconds to wait before a retry")
    parser.add_argument("--python-client", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.python_client:
        return python_client_main(args.python_client)

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), or use --client python")
    if client == "python":
        print(
            "NOTE: wrk not in use; the load client is Python (httpx) in a separate process:"
            " it limits the figures."
        )

    unwind_on_sigterm()
    plan = Plan.quick() if args.quick else Plan.full()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = datetime.now(UTC)
    addresses = Addresses.make(plan)

    results: list[BackendResult] = []
    failures: dict[str, str] = {}
    setups = [
        Setup(backend, server, int(workers))
        for backend in backends
        for server in args.servers.split(",")
        for workers in args.workers.split(",")
    ]
    for setup in setups:
        print(f"{setup.label}:", flush=True)

        def work(setup: Setup = setup) -> BackendResult:
            return run_backend(setup, plan, addresses, client)

        outcome = _attempts(setup.label, args.attempts, args.retry_wait, work)
        if isinstance(outcome, str):
            failures[setup.label] = outcome
            continue
        compute_ratios(outcome)
        results.append(outcome)

    print_report(results, client, failures)
    path = write_results(plan, client, results, failures, started)
    print(
        f"\nresults: {path.relative_to(ROOT)}  (total {(datetime.now(UTC) - started).total_seconds():.0f} s)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
