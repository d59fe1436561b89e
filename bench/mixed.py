"""Checks while writes run beside them, and the proof that no check answered a stale allow.

The second client beside the bench's wrk check load (issue 15, target 2): writer tasks send one write
for every ``checks_per_write`` checks answered (wrk's, counted from the progress files its Lua script
appends a byte to every ``PROGRESS_EVERY`` answers, and this client's own), alternating a withdrawal
of a seeded, granted person's marketing-by-email consent and a registration of a new person with five
choices; each withdrawal, once acknowledged, is followed at once by a check of that address, and
``connections`` tasks send single checks of their own.
Every withdrawal's acknowledgement time and every check's start time and answer are recorded (one
monotonic clock, this process); a check of a withdrawn address that *started after* that withdrawal
was acknowledged and answered ``allowed`` is a stale allow. Half of this client's checks go to
addresses just withdrawn or about to be, so the proof is not vacuous: the report counts the checks it
rests on. (wrk's checks rotate through every seeded address and count towards the rate only: wrk
cannot say when each request started and what it answered.)

It runs as its own process (``python bench/mixed.py SPEC.json``) and prints one ``BENCH_JSON`` line in
wrk's shape plus the proof. httpx is far slower than wrk, so it carries the proof, not the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import statistics
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness import DOMAIN, MARKER, registration, withdrawal

#: How many just-withdrawn (and about-to-be-withdrawn) addresses the checkers aim at.
HOT = 8
#: wrk's Lua script appends a byte to its progress file every so many checks answered.
PROGRESS_EVERY = 10


@dataclass(frozen=True, slots=True)
class CheckSeen:
    """One check of a withdrawal target: when it was sent and what it answered."""

    address: str
    started: float
    allowed: bool


def stale_allows(checks: Iterable[CheckSeen], acknowledged: Mapping[str, float]) -> list[CheckSeen]:
    """The checks that started after their address's withdrawal was acknowledged and still allowed."""
    return [
        check
        for check in checks
        if check.allowed and check.address in acknowledged and check.started > acknowledged[check.address]
    ]


def checked_after_ack(checks: Iterable[CheckSeen], acknowledged: Mapping[str, float]) -> int:
    """How many checks the proof rests on: of a withdrawn address, started after its acknowledgement."""
    return sum(1 for c in checks if c.address in acknowledged and c.started > acknowledged[c.address])


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


@dataclass(slots=True)
class Spec:
    """What to send, from the bench (a JSON file)."""

    base_url: str
    api_key: str
    duration_s: float
    connections: int
    writers: int
    #: One write for every so many checks answered.
    checks_per_write: int
    #: Files wrk's threads append a byte to every ``PROGRESS_EVERY`` checks answered.
    progress_files: list[str]
    #: Addresses the checkers rotate through.
    rotation: list[str]
    #: Granted people to withdraw, in order: [address, person id].
    targets: list[list[str]]
    #: (purpose, channel) of each registration's choices.
    choices: list[list[str | None]]


@dataclass(slots=True)
class Tally:
    """What the run saw, filled by the tasks."""

    latencies: list[float] = field(default_factory=list)
    seen: list[CheckSeen] = field(default_factory=list)
    acknowledged: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    )
    writes_claimed: int = 0

    def bump(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


class Mixed:
    """The checkers and the writers sharing one httpx client and one clock."""

    def __init__(self, spec: Spec, client: httpx.AsyncClient) -> None:
        self.spec, self.client, self.tally = spec, client, Tally()
        self.started = self.deadline = 0.0
        self.permits = asyncio.Semaphore(0)
        self.targets = deque((address, person) for address, person in spec.targets)
        self.target_addresses = {address for address, _ in spec.targets}
        # Just withdrawn, or next: each target is checked (allowed) before its withdrawal and after.
        self.hot: deque[str] = deque([spec.targets[0][0]] if spec.targets else [], maxlen=HOT)
        self.run = secrets.token_hex(3)
        self.registered = itertools.count()

    async def run_for(self, duration: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + duration
        checkers = [self.checker(i) for i in range(self.spec.connections)]
        writers = [self.writer() for _ in range(self.spec.writers)]
        await asyncio.gather(self.pacer(), *checkers, *writers)

    def checks_answered(self) -> int:
        """wrk's checks (from its progress files) and this client's own, so far."""
        total = len(self.tally.latencies)
        for path in self.spec.progress_files:
            with contextlib.suppress(FileNotFoundError):
                total += PROGRESS_EVERY * Path(path).stat().st_size
        return total

    async def pacer(self) -> None:
        """Every 5 ms, one permit to write for each ``checks_per_write`` checks answered since."""
        released = 0
        while time.monotonic() < self.deadline:
            due = self.checks_answered() // self.spec.checks_per_write
            for _ in range(due - released):
                self.permits.release()
            released = max(released, due)
            await asyncio.sleep(0.005)

    def pick(self, n: int) -> str:
        """Every other check one of the hot addresses, the rest rotating through the seeded ones."""
        if n % 2 and self.hot:
            return self.hot[(n // 2) % len(self.hot)]
        return self.spec.rotation[(n // 2) % len(self.spec.rotation)]

    async def checker(self, offset: int) -> None:
        for n in itertools.count(offset * 97 * 2):
            if time.monotonic() >= self.deadline:
                return
            await self.check(self.pick(n))

    async def check(self, address: str) -> None:
        body = {"purpose": "marketing", "channel": "email", "to": address}
        started = time.monotonic()
        answer = await self.post("/v1/checks", body, 200)
        if answer is not None:
            self.tally.latencies.append(time.monotonic() - started)
            allowed = bool(answer.get("allowed"))
            self.tally.bump("allowed" if allowed else "denied")
            if answer.get("degraded"):
                self.tally.bump("degraded")
            if address in self.target_addresses:
                self.tally.seen.append(CheckSeen(address, started, allowed))

    async def writer(self) -> None:
        """Take a permit from the pacer, then write: withdrawals and registrations in turn."""
        while True:
            try:
                await asyncio.wait_for(self.permits.acquire(), max(0.0, self.deadline - time.monotonic()))
            except TimeoutError:
                return
            self.tally.writes_claimed += 1
            if self.tally.writes_claimed % 2 and self.targets:
                await self.withdraw(*self.targets.popleft())
            else:
                await self.register()

    async def withdraw(self, address: str, person_id: str) -> None:
        if self.targets:
            self.hot.append(self.targets[0][0])
        if await self.post(f"/v1/people/{person_id}/consents", withdrawal(), 201) is not None:
            self.tally.acknowledged[address] = time.monotonic()
            self.tally.bump("withdrawals")
            await self.check(address)  # at once: the likeliest moment for a stale answer

    async def register(self) -> None:
        address = f"mixed-{self.run}-{next(self.registered)}@{DOMAIN}"
        choices = [(str(purpose), channel) for purpose, channel in self.spec.choices]
        if await self.post("/v1/registrations", registration(address, choices), 201) is not None:
            self.tally.bump("registrations")

    async def post(self, path: str, body: dict[str, Any], expected: int) -> dict[str, Any] | None:
        try:
            response = await self.client.post(path, json=body)
        except httpx.TimeoutException:
            self.tally.errors["timeout"] += 1
            return None
        except httpx.TransportError:
            self.tally.errors["read"] += 1
            return None
        if response.status_code != expected:
            self.tally.errors["status"] += 1
            self.tally.bump(f"status_{response.status_code}_{path.split('/')[2]}")
            return None
        answer: dict[str, Any] = response.json()
        return answer


def summary(tally: Tally, elapsed: float) -> dict[str, Any]:
    """wrk's shape (requests are the checks) plus the stale-allow proof."""
    ordered = sorted(tally.latencies)
    stale = stale_allows(tally.seen, tally.acknowledged)
    return {
        "requests": len(ordered),
        "duration_us": elapsed * 1e6,
        "errors": tally.errors,
        "latency_us": {
            "mean": statistics.fmean(ordered) * 1e6 if ordered else 0.0,
            "stdev": statistics.pstdev(ordered) * 1e6 if len(ordered) > 1 else 0.0,
            "max": (ordered[-1] if ordered else 0.0) * 1e6,
            **{f"p{p}": percentile(ordered, p) * 1e6 for p in (50, 90, 99)},
        },
        "counts": tally.counts,
        "proof": {
            "withdrawals_acknowledged": len(tally.acknowledged),
            "checks_of_withdrawn_after_ack": checked_after_ack(tally.seen, tally.acknowledged),
            "stale_allows": len(stale),
            "stale_examples": [
                {
                    "address": s.address,
                    "started_after_ack_ms": 1000 * (s.started - tally.acknowledged[s.address]),
                }
                for s in stale[:10]
            ],
        },
    }


async def run(spec: Spec) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=spec.connections + spec.writers)
    headers = {"Authorization": f"Bearer {spec.api_key}"}
    async with httpx.AsyncClient(
        base_url=spec.base_url, headers=headers, limits=limits, timeout=10
    ) as client:
        mixed = Mixed(spec, client)
        started = time.monotonic()
        await mixed.run_for(spec.duration_s)
        return summary(mixed.tally, time.monotonic() - started)


def main(spec_file: str) -> int:
    spec = Spec(**json.loads(Path(spec_file).read_text()))
    print(MARKER + json.dumps(asyncio.run(run(spec))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
