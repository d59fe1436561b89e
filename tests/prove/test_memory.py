"""Memory stays flat under sustained load, and the server answers as fast late in a run as early.

The real server (`consent-service serve`, granian, two workers) runs under wrk with a mix of every
route family (``soak.lua``: health, single and bulk checks, registrations, withdrawals, one-click
unsubscribes, pages, staff reads, refused bodies, unknown routes, calls with no key or a forged one,
metrics and the schema). The resident memory of the whole process tree is sampled after every round.
After a warm-up (caches, pools and the allocator's arenas fill), it may grow by at most
``GROWTH_MIB`` for the rest of the run; and ``/health/live``, loaded alone for a few seconds after
the warm-up and again at the end, must answer as fast at the end as at the start.

Run once over a private PostgreSQL and Redis (production's pairing) and once on the embedded default
(SQLite in the data directory, no Redis). ``make test`` runs a short soak; ``make prove-long``
(``PROVE_LONG=1``) the long one. Figures go to ``docs/RELIABILITY.md``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import IN_CI
from tests.prove.harness import LONG, Killable, report
from tests.support.processes import rss_kib, settle
from tests.support.services import private_postgres, private_redis

pytestmark = pytest.mark.prove

LUA = Path(__file__).with_name("soak.lua")
POSTGRES, EMBEDDED = "PostgreSQL + Redis", "embedded default"
#: Requests in the whole run, warm-up included, and how many of them are warm-up. SQLite answers the
#: mix at about half PostgreSQL's rate (one writer at a time), so its long run is shorter.
RUNS = (
    {POSTGRES: (300_000, 50_000), EMBEDDED: (100_000, 25_000)}
    if LONG
    else {POSTGRES: (30_000, 10_000), EMBEDDED: (20_000, 8_000)}
)
#: The most the process tree may grow after the warm-up, in MiB. Before the fix of issue 13 the
#: server grew by 400-850 bytes a request: 20 MiB over the long run's 250,000 measured requests on
#: PostgreSQL would catch a leak of a fifth of that; 12 MiB over the short runs' 12,000-20,000, of
#: about the whole of it.
GROWTH_MIB = 20 if LONG else 12
#: Late health latency against early: the median within 1.5 x + 2 ms, the 99th percentile within
#: 2 x + 5 ms (on two shared cores one stall of the machine moves a 9-second p99 that much). Before the
#: fix, the worst health answer tripled between two loads ten seconds apart; memory is the bound that
#: catches a leak, this one a server that slows as it ages.
P50_FACTOR, P50_FLOOR_MS = 1.5, 2.0
P99_FACTOR, P99_FLOOR_MS = 2.0, 5.0
ROUND_SECONDS = 15 if LONG else 8
CONNECTIONS = 16
PEOPLE = 300
NOTICE = {"purpose": "marketing", "version": 1}
#: Registrations, withdrawals and one-click unsubscribes: 3 of the 40 requests in soak.lua's rotation.
WRITE_SHARE = 3 / 40


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        message = "wrk is not installed (apt-get install wrk): the soak needs it to load the server"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@dataclass
class Load:
    """What one wrk run reported."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _run_wrk(wrk: str, base: str, seconds: float, script: Path | None, connections: int, path: str) -> Load:
    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run(  # noqa: S603 - wrk with arguments of our own
        [*command, base + path], capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    assert done.returncode == 0, f"wrk failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    if script is None:
        return _parse_plain(done.stdout)
    line = next(line for line in done.stdout.splitlines() if line.startswith("SOAK_JSON "))
    found = json.loads(line.removeprefix("SOAK_JSON "))
    errors = found["errors"]
    return Load(
        requests=found["requests"],
        seconds=found["duration_us"] / 1e6,
        p50_ms=found["latency_ms"]["p50"],
        p99_ms=found["latency_ms"]["p99"],
        max_ms=found["latency_ms"]["max"],
        statuses=found["statuses"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    )


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    raise ValueError(text)


def _parse_plain(output: str) -> Load:
    """wrk's own summary (no script): the latency distribution and the request count."""
    figures: dict[str, float] = {}
    requests, seconds, errors = 0, 0.0, 0
    for line in output.splitlines():
        words = line.split()
        if words[:1] == ["Latency"] and len(words) == 5:
            figures["max"] = _ms(words[3])
        elif len(words) == 2 and words[0] in ("50%", "99%"):
            figures[words[0]] = _ms(words[1])
        elif "requests in" in line:
            requests, seconds = int(words[0]), _ms(words[3].rstrip(","))
        elif line.strip().startswith("Socket errors"):
            errors = sum(int(part.split()[-1]) for part in line.split(":", 1)[1].split(","))
    return Load(requests, seconds / 1000, figures["50%"], figures["99%"], figures["max"], {}, errors)


@dataclass
class Seeded:
    key: str
    files: dict[str, Path] = field(default_factory=dict)


def _seed(server: Killable, key: str, workdir: Path) -> Seeded:
    """People with marketing consent by email and text, unsubscribe links for them, and the files the
    Lua script reads (addresses, unknown addresses, person ids, link paths, a bulk body)."""
    headers = {"Authorization": f"Bearer {key}"}
    addresses, people, tokens = [], [], []
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
        for i in range(PEOPLE):
            address = f"soak.seed.{uuid.uuid4().hex[:10]}@example.org"
            mobile = f"07912 3{i:05d}"
            made = http.post(
                "/v1/registrations",
                json={
                    "person": {
                        "contacts": [{"kind": "email", "value": address}, {"kind": "phone", "value": mobile}]
                    },
                    "choices": [
                        {
                            "purpose": "marketing",
                            "channel": channel,
                            "decision": "granted",
                            "affirmative_action": "ticked_box",
                            "pre_ticked": False,
                            "notice": NOTICE,
                        }
                        for channel in ("email", "sms")
                    ],
                    "source": "web_form",
                },
            )
            assert made.status_code == 201, made.text
            addresses.append(address)
            people.append(made.json()["person_id"])
            if i % 3 == 0:
                link = http.post("/v1/unsubscribe-links", json={"to": address, "channel": "email"})
                assert link.status_code == 201, link.text
                tokens.append(link.json()["url"].removeprefix(server.base))
    unknown = [f"soak.unknown.{uuid.uuid4().hex[:10]}@example.org" for _ in range(200)]
    bulk = {"purpose": "marketing", "channel": "email", "to": addresses[:50] + unknown[:50]}
    files = {
        "ADDRESSES": addresses,
        "UNKNOWN": unknown,
        "PEOPLE": people,
        "TOKENS": tokens,
    }
    seeded = Seeded(key)
    for name, values in files.items():
        path = workdir / f"{name.lower()}.txt"
        path.write_text("\n".join(values) + "\n")
        seeded.files[name] = path
    seeded.files["BULK"] = workdir / "bulk.json"
    seeded.files["BULK"].write_text(json.dumps(bulk))
    return seeded


def _script(seeded: Seeded, workdir: Path) -> Path:
    text = LUA.read_text().replace("__KEY__", seeded.key).replace("__RUN__", secrets.token_hex(4))
    for name, path in seeded.files.items():
        text = text.replace(f"__{name}__", str(path))
    script = workdir / "soak.lua"
    script.write_text(text)
    return script


def _resident_mib(pid: int) -> float:
    """The process tree's resident memory once the load has stopped: the median of a few samples."""
    time.sleep(1.0)
    samples = []
    for _ in range(5):
        samples.append(rss_kib(pid) / 1024)
        time.sleep(0.2)
    return statistics.median(samples)


def _health(wrk: str, base: str, pid: int) -> Load:
    """``/health/live`` alone, once the server has finished what the mix left it (the relay catching
    up, commits): three loads of 3 s, and the median of each figure, so one stall of the machine does
    not decide."""
    settle(pid)
    loads = [_run_wrk(wrk, base, 3, None, 8, "/health/live") for _ in range(3)]
    return Load(
        requests=sum(load.requests for load in loads),
        seconds=sum(load.seconds for load in loads),
        p50_ms=statistics.median(load.p50_ms for load in loads),
        p99_ms=statistics.median(load.p99_ms for load in loads),
        max_ms=max(load.max_ms for load in loads),
        statuses={},
        socket_errors=sum(load.socket_errors for load in loads),
    )


def _gc_pauses(base: str) -> dict[str, Any]:
    """The collector's pauses by generation, from the service's own Prometheus histogram."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("consent_gc_pause_seconds_count"):
            generation = line.split('generation="')[1].split('"')[0]
            found.setdefault(generation, {})["count"] = float(line.split()[-1])
        elif line.startswith("consent_gc_pause_seconds_sum"):
            generation = line.split('generation="')[1].split('"')[0]
            found.setdefault(generation, {})["sum_s"] = float(line.split()[-1])
        elif line.startswith("consent_gc_longest_pause_seconds{"):
            generation = line.split('generation="')[1].split('"')[0]
            found.setdefault(generation, {})["max_ms"] = round(float(line.split()[-1]) * 1000, 2)
    return found


def soak(name: str, env: dict[str, str], workdir: Path) -> None:
    wrk = _wrk()
    requests, warm_up = RUNS[name]
    server = Killable(env, workdir, workers=2)
    env["CONSENT_PUBLIC_BASE_URL"] = server.base
    server.command("migrate")
    key = server.command(
        "keys", "create", "--name", "soak", "--scope", "forms", "--scope", "staff", "--scope", "checks"
    )
    server.start()
    try:
        assert server.process is not None
        pid = server.process.pid
        seeded = _seed(server, key, workdir)
        script = _script(seeded, workdir)
        rounds: list[dict[str, Any]] = []
        total, early, baseline = 0, None, None
        started = time.monotonic()
        while total < requests:
            load = _run_wrk(wrk, server.base, ROUND_SECONDS, script, CONNECTIONS, "/")
            total += load.requests
            resident = _resident_mib(pid)
            rounds.append(
                {
                    "requests": total,
                    "rate": round(load.rate),
                    "rss_mib": round(resident, 1),
                    "p99_ms": load.p99_ms,
                    "max_ms": load.max_ms,
                    "statuses": load.statuses,
                    "socket_errors": load.socket_errors,
                }
            )
            if baseline is None and total >= warm_up:
                baseline = resident
                early = _health(wrk, server.base, pid)
        assert early is not None and baseline is not None
        late = _health(wrk, server.base, pid)
        final = _resident_mib(pid)
        gc_pauses = _gc_pauses(server.base)
        log = "\n".join(p.read_text() for p in sorted(workdir.glob("server-*.log")))
    finally:
        server.stop()
    after_warm_up = [r for r in rounds if r["requests"] > warm_up]
    measured = total - warm_up
    growth = final - baseline
    statuses: dict[str, int] = {}
    for r in rounds:
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    figures = {
        "requests": total,
        "seconds": round(time.monotonic() - started),
        "rate": round(statistics.mean(r["rate"] for r in rounds)),
        "rss_after_warm_up_mib": round(baseline, 1),
        "rss_final_mib": round(final, 1),
        "rss_peak_after_warm_up_mib": max(r["rss_mib"] for r in after_warm_up) if after_warm_up else None,
        "growth_mib": round(growth, 1),
        "bytes_per_request": round(growth * 1024 * 1024 / measured, 1),
        "health_early_ms": {
            "p50": early.p50_ms,
            "p99": early.p99_ms,
            "max": early.max_ms,
            "rate": round(early.rate),
        },
        "health_late_ms": {
            "p50": late.p50_ms,
            "p99": late.p99_ms,
            "max": late.max_ms,
            "rate": round(late.rate),
        },
        "mix_worst_ms": max(r["max_ms"] for r in rounds),
        "statuses": statuses,
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "gc_pauses": gc_pauses,
        "rounds": [(r["requests"], r["rss_mib"]) for r in rounds],
    }
    report(f"memory soak, {name}", figures)
    assert "Traceback" not in log, log[-3000:]
    unavailable = statuses.get("503", 0)
    assert not [s for s in statuses if s.startswith("5") and s != "503"], statuses
    if name == EMBEDDED:
        # SQLite takes one writer at a time across both workers; under this sustained mix a write
        # can wait past CONSENT_DATABASE_TIMEOUT and is answered 503 (retry; nothing recorded, and a
        # family's one-click unsubscribe is spooled instead). Bounded here; see docs/RELIABILITY.md.
        assert unavailable <= WRITE_SHARE * total * 0.01, statuses
    else:
        assert unavailable == 0, statuses
    assert figures["socket_errors"] == 0
    # Every family was answered as it should be: the 2xx of the real work and the refusals alike.
    for status in ("200", "201", "401", "404", "422"):
        assert statuses.get(status, 0) > 0, statuses
    assert growth <= GROWTH_MIB, figures
    assert late.p50_ms <= early.p50_ms * P50_FACTOR + P50_FLOOR_MS, figures
    assert late.p99_ms <= early.p99_ms * P99_FACTOR + P99_FLOOR_MS, figures


def _base_env(workdir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")},
        "CONSENT_DATA_DIR": str(workdir),
        "CONSENT_LOG_FORMAT": "text",
        "CONSENT_PUBLIC_RATE_LIMIT": "100000000",
    }


def test_memory_stays_flat_on_postgresql_and_redis(tmp_path: Path) -> None:
    with private_postgres() as postgres, private_redis() as redis:
        env = {
            **_base_env(tmp_path),
            "CONSENT_DATABASE_URL": postgres.database_url("postgres"),
            "CONSENT_REDIS_URL": redis.url,
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
        soak(POSTGRES, env, tmp_path)


def test_memory_stays_flat_on_the_embedded_default(tmp_path: Path) -> None:
    soak(EMBEDDED, _base_env(tmp_path), tmp_path)
