"""CPU time of one bulk check of 10,000 addresses, in this process, beside the in-process ceiling.

``bench/checks.py`` measures the bulk route through a real server under wrk; on a shared machine its
wall-clock figures move by a third from run to run. This measures the same work as CPU time of this
one process (``time.process_time``), which other workers on the machine inflate far less:

* the ceiling: the service's own ``normalise_email`` + ``Fingerprinter`` + one dict lookup per
  address, as issue 15 defines it;
* ``check_many`` called directly (the service function: reads, decisions, metrics);
* ``POST /v1/checks/bulk`` through the app in-process (httpx's ASGI transport): the above plus
  middleware, decoding and encoding.

PostgreSQL's own CPU is not in the figures (it is another process); SQLite's is (it runs in this
process). The store is seeded through the API with people granted, withdrawn, never asked, sharing an
address, erased (and one registered again afterwards), restricted, and addresses suppressed for nobody.

    .venv/bin/python bench/bulk_cpu.py --backend sqlite|postgresql [--keep state.json] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

# The bench runs as a script; the helpers it shares with the tests live in the repository's tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consent_service.adapters.collector import freeze_start_up
from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.cli import migrate
from consent_service.config import Settings
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import ContactPoint, normalise_email
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.domain.keys import KeyScope
from consent_service.services import checks
from consent_service.services.catalogue import seed
from consent_service.services.context import Context
from consent_service.services.keys import create_key
from tests.integration.test_registrations import grant
from tests.support.asgi import in_process

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BULK = 10_000
GRANT = grant("email")
WITHDRAW = {"purpose": "marketing", "channel": "email", "decision": "withdrawn"}


class Seeder:
    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    async def post(self, path: str, body: Any, scope: str) -> Any:
        response = await self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.keys[scope]}"}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def register(self, email: str, granted: bool = True) -> str:
        body = {
            "person": {"contacts": [{"kind": "email", "value": email}]},
            "choices": [GRANT] if granted else [],
            "source": "web_form",
        }
        return str((await self.post("/v1/registrations", body, "forms"))["person_id"])

    async def withdraw(self, person: str) -> None:
        await self.post(
            f"/v1/people/{person}/consents", {"choices": [WITHDRAW], "source": "web_form"}, "forms"
        )


async def seed_people(seeder: Seeder, people: int, rng: random.Random) -> list[str]:
    """Addresses of every kind a bulk check meets; returns the known ones (with some spelled differently)."""
    known: list[str] = []
    n = people

    def email(tag: str, i: int) -> str:
        return f"{tag}.{i}.{secrets.token_hex(3)}@bulk.example.org"

    for i in range(int(n * 0.70)):
        address = email("granted", i)
        await seeder.register(address)
        known.append(address)
    for i in range(int(n * 0.12)):
        address = email("withdrawn", i)
        await seeder.withdraw(await seeder.register(address))
        known.append(address)
    for i in range(int(n * 0.06)):
        address = email("unasked", i)
        await seeder.register(address, granted=False)
        known.append(address)
    for i in range(int(n * 0.04)):
        address = email("shared", i)
        await seeder.register(address)
        second = await seeder.register(address)
        if i % 2:
            await seeder.withdraw(second)
        known.append(address)
    for i in range(int(n * 0.02)):
        address = email("erased", i)
        person = await seeder.register(address)
        await seeder.post(f"/v1/people/{person}/erasure", {"reason": "asked"}, "admin")
        if i % 3 == 0:
            await seeder.register(address)  # registered again after the erasure (LEGAL #16)
        known.append(address)
    for i in range(int(n * 0.02)):
        address = email("restricted", i)
        person = await seeder.register(address)
        await seeder.post(
            f"/v1/people/{person}/restrictions", {"channel": "all", "reason": "safeguarding"}, "staff"
        )
        known.append(address)
    for i in range(int(n * 0.10)):
        address = email("suppressed", i)
        await seeder.post(
            "/v1/suppressions", {"to": address, "channel": "email", "reason": "complaint"}, "staff"
        )
        known.append(address)
    return known


def bulk_body(known: list[str], rng: random.Random) -> list[str]:
    """10,000 addresses: every known one (some in capitals or with spaces), the rest unknown, a few
    invalid and a few repeated, shuffled."""
    spelled = [a.upper() if i % 7 == 0 else f" {a} " if i % 11 == 0 else a for i, a in enumerate(known)]
    extra = [f"nobody.{i}@unknown.example.org" for i in range(BULK - len(spelled) - 60)]
    invalid = [f"not-an-address-{i}" for i in range(30)]
    repeated = rng.sample(spelled, 30)
    addresses = (spelled + extra + invalid + repeated)[:BULK]
    rng.shuffle(addresses)
    return addresses


def ceiling(fingerprint_key: bytes, addresses: list[str], known: set[str]) -> Callable[[], int]:
    """Issue 15's in-process ceiling: the service's normaliser and fingerprinter and a dict lookup."""
    fingerprint = Fingerprinter(fingerprint_key)
    table = {fingerprint(ContactPoint(ContactKind.EMAIL, normalise_email(a))): True for a in known}

    def run() -> int:
        hits = 0
        for address in addresses:
            try:
                point = ContactPoint(ContactKind.EMAIL, normalise_email(address))
            except ValueError:
                continue
            hits += table.get(fingerprint(point), False)
        return hits

    return run


class _GcTime:
    """The time the garbage collector spends from now on (process CPU)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.total += time.process_time() - self._started

    def ms(self) -> float:
        gc.callbacks.remove(self)
        return self.total * 1000


def cpu_ms(work: Callable[[], object], repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        runs.append((time.process_time() - started) * 1000)
    return runs


async def acpu_ms(work: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        started = time.process_time()
        await work()
        runs.append((time.process_time() - started) * 1000)
    return runs


@dataclass
class Seeded:
    """The app in this process over a store seeded through its API, and the addresses seeded."""

    backend: str
    settings: Settings
    context: Context
    client: httpx.AsyncClient
    keys: dict[str, str]
    known: list[str]


@asynccontextmanager
async def seeded(
    backend: str, people: int, kept: Path | None, rng: random.Random, name: str, *, drop: bool = False
) -> AsyncIterator[Seeded]:
    """A store seeded by ``seed_people``, in a temporary folder or a throwaway PostgreSQL database
    named after ``name``; with ``kept``, seeded once and named in that file for the next run (which
    drops its database only with ``drop``)."""
    state: dict[str, Any] = json.loads(kept.read_text()) if kept and kept.exists() else {}
    environ = state.get("environ") or {
        "CONSENT_DATA_DIR": tempfile.mkdtemp(prefix=f"{name}_"),
        "CONSENT_CHECK_TIMEOUT": "30",
        "CONSENT_PUBLIC_RATE_LIMIT": "1000000",
    }
    database = state.get("database") or f"consent_{name}_{secrets.token_hex(5)}"
    if backend == "postgresql" and not state:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        environ |= {
            "CONSENT_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
        }
    try:
        settings = Settings.from_env(environ)
        await asyncio.to_thread(migrate, settings)
        context = build_context(settings)
        app = create_app(settings, context)
        await seed(context.store, context.clock)
        await context.catalogue.reload()
        keys: dict[str, str] = state.get("keys", {})
        for scope in (KeyScope.FORMS, KeyScope.STAFF, KeyScope.ADMIN, KeyScope.CHECKS):
            if scope.value not in keys:
                _, keys[scope.value] = await create_key(
                    context.store, context.clock, f"bench {scope}", frozenset({scope}), None
                )
        async with httpx.AsyncClient(
            transport=in_process(app), base_url="http://bench", timeout=600
        ) as client:
            known: list[str] = state.get("known", [])
            if not known:
                started = time.perf_counter()
                known = await seed_people(Seeder(client, keys), people, rng)
                took = time.perf_counter() - started
                print(f"{backend}: seeded {len(known):,} addresses in {took:.0f} s", file=sys.stderr)
                if kept:
                    kept.write_text(
                        json.dumps({"environ": environ, "database": database, "keys": keys, "known": known})
                    )
            yield Seeded(backend, settings, context, client, keys, known)
        await shutdown(app, context)
    finally:
        if backend == "postgresql" and (not kept or drop):
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


async def measure(args: argparse.Namespace) -> None:
    backend, repeats, profile, dump = args.backend, args.repeats, args.profile, args.dump
    rng = random.Random(15)
    kept = Path(args.keep) if args.keep else None
    async with seeded(backend, args.people, kept, rng, "bulk") as bench:
        settings, context, client, keys, known = (
            bench.settings,
            bench.context,
            bench.client,
            bench.keys,
            bench.known,
        )
        addresses = bulk_body(known, rng)
        body = {"purpose": "marketing", "channel": "email", "to": addresses}
        headers = {"Authorization": f"Bearer {keys['checks']}"}

        async def over_http() -> Any:
            response = await client.post("/v1/checks/bulk", json=body, headers=headers)
            assert response.status_code == 200, response.text[:500]
            return response

        lines = b"".join(json.dumps({"to": a}).encode() + b"\n" for a in addresses)

        async def as_ndjson() -> Any:
            response = await client.post(
                "/v1/checks/bulk?purpose=marketing&channel=email",
                content=lines,
                headers={**headers, "Content-Type": "application/x-ndjson"},
            )
            assert response.status_code == 200, response.text[:500]
            return response

        async def direct() -> Any:
            return await checks.check_many(context, "marketing", Channel.EMAIL, addresses)

        first = (await over_http()).json()
        if dump:
            Path(dump).write_text("\n".join(f"{r['allowed']} {r['reason']}" for r in first["results"]))
        reasons: dict[str, int] = {}
        for result in first["results"]:
            reasons[result["reason"]] = reasons.get(result["reason"], 0) + 1
        print(f"{backend}: answers {dict(sorted(reasons.items()))}", file=sys.stderr)
        for _ in range(2):
            await over_http()  # warm
        # As a serving worker does once it is ready (bootstrap.serving): the start-up heap, and
        # here the seeding's, out of the collector's sight, so a full collection walks only what
        # the bulk checks made.
        freeze_start_up()
        paused = _GcTime()
        await over_http()
        print(f"{backend}: garbage collection in one bulk call: {paused.ms():.1f} ms", file=sys.stderr)
        top = ceiling(settings.fingerprint_key, addresses, set(known))
        results = {
            "ceiling": cpu_ms(top, repeats),
            "check_many": await acpu_ms(direct, repeats),
            "http": await acpu_ms(over_http, repeats),
            "ndjson": await acpu_ms(as_ndjson, repeats),
        }
        results["ceiling"] += cpu_ms(top, repeats)
        # The median, and the least disturbed run (the minimum): other work on a shared machine
        # only ever adds CPU time (shared caches and cores), never takes it away.
        for name, pick in (("median", statistics.median), ("min", min)):
            ms = {what: pick(runs) for what, runs in results.items()}
            floor = ms["ceiling"]
            print(
                f"{backend}: CPU ms per 10k ({name} of {repeats}): ceiling {floor:.1f}"
                f" | check_many {ms['check_many']:.1f} (ratio {floor / ms['check_many']:.2f})"
                f" | POST /v1/checks/bulk {ms['http']:.1f} (ratio {floor / ms['http']:.2f})"
                f" | NDJSON {ms['ndjson']:.1f} (JSON ÷ NDJSON {ms['http'] / ms['ndjson']:.2f})"
            )
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(3):
                await over_http()
            profiler.disable()
            profiler.dump_stats(profile)


def arguments(description: str | None, people: int, repeats: int) -> argparse.ArgumentParser:
    """The arguments of a bench over a ``seeded`` store."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--people", type=int, default=people)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--keep", help="seed once and keep the store, named in this file, for the next run")
    return parser


def main() -> None:
    parser = arguments(__doc__, people=3000, repeats=7)
    parser.add_argument("--profile", help="write a cProfile of three bulk calls through the app here")
    parser.add_argument("--dump", help="write the first bulk answer's (allowed, reason) per address here")
    args = parser.parse_args()
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
