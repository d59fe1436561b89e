"""CPU time and statements of a registration and a withdrawal, in this process (issue 15, target 4).

``bench/core.py`` measures writes through a real server under wrk; on this shared two-core machine
its figures move by a third from run to run, and a write's cost is split between the request and the
relay that positions and publishes its changes afterwards. This measures both as CPU time of this one
process (``time.process_time``), request by request, through the app in-process (httpx's ASGI
transport: middleware, decoding, the use case, the commit):

* a registration of a new person with the five choices ``bench/core.py`` sends;
* a withdrawal of one of those choices (marketing by email) for each person registered;
* the relay's step afterwards (positions given, the changes published to a Redis stream on
  PostgreSQL, as in production), per write;
* registrations sixteen at a time with the relay running beside them, woken by every commit, as in a
  serving worker: the request's and the relay's cost together, per registration.

It counts the statements each sends. PostgreSQL's own CPU is not in the figures (another process);
SQLite's is (it runs in this process).

    .venv/bin/python bench/write_cpu.py --backend sqlite|postgresql [--writes 300] [--repeats 3]
    .venv/bin/python bench/write_cpu.py --profile out.prof   # a cProfile of the whole run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import random
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import msgspec
from bulk_cpu import seeded
from core import FIVE_CHOICES
from harness import REDIS_URL, consent_choices
from miss_cpu import Statements
from redis.asyncio import Redis

from consent_service.bootstrap import build_relay

WITHDRAWAL = {
    "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
    "source": "web_form",
}


async def timed(calls: list[Callable[[], Awaitable[Any]]], statements: Statements) -> tuple[float, float]:
    """µs of CPU and statements per call, the calls made one after another."""
    sent = statements.count
    started = time.process_time()
    for call in calls:
        await call()
    took = time.process_time() - started
    return took * 1e6 / len(calls), (statements.count - sent) / len(calls)


async def measure(args: argparse.Namespace) -> None:
    # Ten people seeded, no more: a write's cost does not depend on how many others are held.
    async with seeded(args.backend, 10, None, random.Random(4), "write") as bench:
        client, keys = bench.client, bench.keys
        settings, stream = bench.settings, f"bench:write:{secrets.token_hex(4)}"
        if args.backend == "postgresql":
            # As in production: the relay also publishes every change to a Redis stream.
            changes = msgspec.structs.replace(settings.changes, stream=stream)
            settings = msgspec.structs.replace(settings, redis_url=REDIS_URL, changes=changes)
        relay = build_relay(settings, bench.context)
        statements = Statements()
        choices = consent_choices(FIVE_CHOICES)
        people: list[str] = []
        serial = iter(range(10**9))

        async def register() -> None:
            body = {
                "person": {"contacts": [{"kind": "email", "value": f"w{next(serial)}@write.example.org"}]},
                "choices": choices,
                "source": "web_form",
            }
            response = await client.post(
                "/v1/registrations", json=body, headers={"Authorization": f"Bearer {keys['forms']}"}
            )
            assert response.status_code == 201, response.text[:300]
            people.append(response.json()["person_id"])

        def withdraw(person: str) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                response = await client.post(
                    f"/v1/people/{person}/consents",
                    json=WITHDRAWAL,
                    headers={"Authorization": f"Bearer {keys['forms']}"},
                )
                assert response.status_code == 201, response.text[:300]

            return call

        async def relay_step() -> None:
            await relay.step()

        for _ in range(20):  # warm: statements compiled, pools filled
            await register()
        await relay.step()
        rows: dict[str, list[tuple[float, float]]] = {"registration": [], "withdrawal": [], "relay": []}
        for _ in range(args.repeats):
            first = len(people)
            rows["registration"].append(await timed([register] * args.writes, statements))
            cost, sent = await timed([relay_step], statements)
            rows["relay"].append((cost / args.writes, sent / args.writes))
            rows["withdrawal"].append(await timed([withdraw(p) for p in people[first:]], statements))
            cost, sent = await timed([relay_step], statements)
            rows["relay"].append((cost / args.writes, sent / args.writes))

        # As a serving worker runs: 16 registrations at a time, the relay beside them woken by every
        # commit (``bootstrap.build_relay``), its steps counted in the registrations' cost.
        async def sixteen_at_a_time() -> None:
            left = iter(range(args.writes))

            async def lane() -> None:
                for _ in left:
                    await register()

            await asyncio.gather(*(lane() for _ in range(16)))

        rows["registration, 16 at a time, relay running"] = []
        running = asyncio.create_task(relay.run())
        for _ in range(args.repeats):
            cost, sent = await timed([sixteen_at_a_time], statements)
            rows["registration, 16 at a time, relay running"].append((cost / args.writes, sent / args.writes))
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await relay.close()
        if args.backend == "postgresql":
            async with Redis.from_url(REDIS_URL) as redis:
                await redis.delete(stream)
        print(f"{args.backend}: {args.writes} writes a run, {args.repeats} runs")
        for name, runs in rows.items():
            costs = [cost for cost, _ in runs]
            what = {"relay": "per write, after each run of writes"}.get(name, "per request")
            print(
                f"  {name}: CPU µs median {statistics.median(costs):,.0f}, min {min(costs):,.0f};"
                f" statements {statistics.median(sent for _, sent in runs):.2f} ({what})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the whole run here")
    args = parser.parse_args()
    if not args.profile:
        asyncio.run(measure(args))
        return
    with cProfile.Profile() as profile:
        asyncio.run(measure(args))
    profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
