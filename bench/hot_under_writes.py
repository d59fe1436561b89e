"""Checks of a small set of addresses, alone and with a trickle of writes beside them: what a write
costs the answers kept in memory.

``bench/core.py``'s checks rotate through 2,000 or more addresses; when misses make the rate fall below
that many per cache lifetime (5 s), no answer is asked for again before it expires, and the figure
measures the miss, whatever the writes do. This bench keeps the set small (``--addresses``, 600) so
every answer is asked for again well within its lifetime, and shows what the writes themselves do to
the cache: before issue 15's feed every write made every worker forget every answer; now a write drops
only the answers about the people and addresses it touched.

It seeds the addresses through the API of a running server (``--base``, ``--key`` with the forms and
checks scopes), warms the cache, then loads ``POST /v1/checks`` with wrk (32 connections, 8 s) four
times: alone, with writes, alone, with writes. The writes come from this process, one at a time at
``--writes-per-second`` at most: a withdrawal of a seeded person's marketing by text (their email
answer depends on them) alternating with a registration of a new person. Each round prints checks/s,
writes/s and, where the server has ``consent_check_answers_total``, the share of checks answered
from memory.

    .venv/bin/python bench/hot_under_writes.py --base http://127.0.0.1:8000 --key KEY
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx
from harness import registration, withdrawal

LOAD_S, CONNECTIONS = 8, 32


#: A person's marketing by text withdrawn: their email's answer depends on them, so it is dropped.
WITHDRAWAL = withdrawal(channel="sms")

LUA = """
local addresses = {}
for line in io.lines("__ADDRESSES__") do addresses[#addresses + 1] = line end
local n = 0
local headers = {["Authorization"] = "Bearer __KEY__", ["Content-Type"] = "application/json"}
function request()
  n = n + 1
  local to = addresses[(n * 7919) % #addresses + 1]
  local body = '{"purpose":"marketing","channel":"email","to":"' .. to .. '"}'
  return wrk.format("POST", "/v1/checks", headers, body)
end
"""


def answers_by_source(base: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("consent_check_answers_total{"):
            found[line.split('source="')[1].split('"')[0]] = float(line.split()[-1])
    return found


def wrk(base: str, script: Path, seconds: int) -> float:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), base]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    line = next(line for line in done.stdout.splitlines() if line.startswith("Requests/sec"))
    return float(line.split()[-1])


async def write(http: httpx.AsyncClient, people: list[str], stop: asyncio.Event, per_second: float) -> int:
    """Withdrawals and registrations in turn, one at a time, until ``stop``; how many were sent."""
    writes = 0
    while not stop.is_set():
        if writes % 2 == 0:
            await http.post(f"/v1/people/{people[writes % len(people)]}/consents", json=WITHDRAWAL)
        else:
            await http.post("/v1/registrations", json=registration(f"new.{uuid.uuid4().hex}@example.org"))
        writes += 1
        await asyncio.sleep(1 / per_second)
    return writes


async def main(base: str, key: str, count: int, writes_per_s: float) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        limit = asyncio.Semaphore(8)

        async def seed_one() -> tuple[str, str]:
            address = f"hot.{uuid.uuid4().hex[:12]}@example.org"
            async with limit:
                made = await http.post("/v1/registrations", json=registration(address))
            made.raise_for_status()
            return address, made.json()["person_id"]

        seeded = await asyncio.gather(*(seed_one() for _ in range(count)))
        people = [person for _, person in seeded]
        with tempfile.TemporaryDirectory() as folder:
            addresses = Path(folder) / "addresses.txt"
            addresses.write_text("\n".join(address for address, _ in seeded) + "\n")
            script = Path(folder) / "checks.lua"
            script.write_text(LUA.replace("__ADDRESSES__", str(addresses)).replace("__KEY__", key))
            wrk(base, script, 3)  # warm the cache
            for writing in (False, True, False, True):
                stop = asyncio.Event()
                before = answers_by_source(base)
                task = asyncio.create_task(write(http, people, stop, writes_per_s)) if writing else None
                rate = await asyncio.to_thread(wrk, base, script, LOAD_S)
                stop.set()
                writes = await task if task is not None else 0
                after = answers_by_source(base)
                memory = after.get("memory", 0.0) - before.get("memory", 0.0)
                database = after.get("database", 0.0) - before.get("database", 0.0)
                share = round(memory / (memory + database), 3) if memory + database else None
                report = {
                    "writes_per_s": round(writes / LOAD_S, 1),
                    "checks_per_s": round(rate),
                    "from_memory": share,
                }
                print(json.dumps(report), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="an API key with the forms and checks scopes")
    parser.add_argument("--addresses", type=int, default=600)
    parser.add_argument("--writes-per-second", type=float, default=60.0, help="at most; one write at a time")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.base, arguments.key, arguments.addresses, arguments.writes_per_second))
