"""DESIGN §4.1: Redis only ever makes a check faster, never wrong. Under a mixed load of checks,
grants and withdrawals from two workers, Redis is killed, flushed and squeezed for memory; no check
that starts after a withdrawal was acknowledged may answer "allowed", and checks keep answering
(from PostgreSQL) while Redis is away."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.prove.harness import LONG, Killable, report
from tests.support.services import private_postgres, private_redis

pytestmark = pytest.mark.prove

PEOPLE = 32
SECONDS = 240 if LONG else 40
GRANT = {
    "purpose": "marketing",
    "channel": "email",
    "decision": "granted",
    "affirmative_action": "ticked_box",
    "pre_ticked": False,
    "notice": {"purpose": "marketing", "version": 1},
}
WITHDRAW = {"purpose": "marketing", "channel": "email", "decision": "withdrawn"}


def test_redis_faults_never_produce_an_allow(tmp_path: Path) -> None:
    with private_postgres() as postgres, private_redis() as redis:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")},
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": postgres.database_url("postgres"),
            "CONSENT_REDIS_URL": redis.url,
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
            # A write that cannot move the signal holds its answer this long: keep the run moving.
            "CONSENT_CHECK_CACHE_TTL": "1",
            "CONSENT_LOG_FORMAT": "text",
        }
        server = Killable(env, tmp_path)
        server.command("migrate")
        key = server.command(
            "keys", "create", "--name", "faults", "--scope", "forms", "--scope", "checks", "--scope", "staff"
        )
        server.start()
        auth = {"Authorization": f"Bearer {key}"}

        redis_down = threading.Event()
        faults = {"kills": 0, "flushes": 0, "squeezes": 0}
        done = threading.Event()

        def nemesis() -> None:
            rng = random.Random(7)
            while not done.wait(rng.uniform(1.0, 2.5)):
                action = rng.choice(["kill", "flush", "squeeze"])
                if action == "kill":
                    redis_down.set()
                    redis.kill()
                    time.sleep(rng.uniform(0.5, 2.0))
                    redis.start()
                    redis_down.clear()
                    faults["kills"] += 1
                elif action == "flush":
                    redis.cli("FLUSHALL")
                    faults["flushes"] += 1
                else:
                    redis.cli("CONFIG", "SET", "maxmemory-policy", rng.choice(["noeviction", "allkeys-lru"]))
                    redis.cli("CONFIG", "SET", "maxmemory", "1")
                    time.sleep(rng.uniform(0.3, 1.0))
                    redis.cli("CONFIG", "SET", "maxmemory", "0")
                    faults["squeezes"] += 1

        figures = {
            "checks": 0,
            "checks_while_redis_down": 0,
            "wrong_allows": 0,
            "degraded": 0,
            "writes_acknowledged": 0,
            "writes_unknown": 0,
        }
        wrong: list[dict[str, object]] = []

        async def person_life(http: httpx.AsyncClient, rng: random.Random, stop_at: float) -> None:
            email = f"faults.{uuid.uuid4().hex[:12]}@example.org"
            made = await http.post(
                "/v1/registrations",
                json={
                    "person": {"contacts": [{"kind": "email", "value": email}]},
                    "choices": [GRANT],
                    "source": "web_form",
                },
                headers=auth,
            )
            assert made.status_code == 201, made.text
            person = made.json()["person_id"]
            known: bool | None = True  # what the record says (None: a write's outcome is unknown)
            while time.monotonic() < stop_at:
                roll = rng.random()
                if roll < 0.7:
                    down = redis_down.is_set()
                    answer = await http.post(
                        "/v1/checks",
                        json={"purpose": "marketing", "channel": "email", "to": email},
                        headers=auth,
                    )
                    assert answer.status_code == 200, answer.text
                    body = answer.json()
                    figures["checks"] += 1
                    figures["checks_while_redis_down"] += down
                    figures["degraded"] += bool(body["degraded"])
                    if body["allowed"] and known is False:
                        figures["wrong_allows"] += 1
                        wrong.append({"person": person, "answer": body})
                else:
                    choice = WITHDRAW if roll < 0.85 else GRANT
                    try:
                        response = await http.post(
                            f"/v1/people/{person}/consents",
                            json={"choices": [choice], "source": "web_form"},
                            headers=auth,
                        )
                    except httpx.TransportError:
                        response = None
                    if response is not None and response.status_code == 201:
                        known = choice is GRANT
                        figures["writes_acknowledged"] += 1
                    elif response is None or response.status_code >= 500:
                        figures["writes_unknown"] += 1
                        if choice is GRANT or known is True:
                            known = None  # recorded or not, nobody can say: expect nothing of the next check

        async def load() -> None:
            stop_at = time.monotonic() + SECONDS
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
                await asyncio.gather(*(person_life(http, random.Random(i), stop_at) for i in range(PEOPLE)))

        chaos = threading.Thread(target=nemesis, daemon=True)
        chaos.start()
        try:
            asyncio.run(load())
        finally:
            done.set()
            chaos.join()
            server.stop()
        report("redis faults", {**figures, **{f"redis_{k}": v for k, v in faults.items()}})
        assert figures["wrong_allows"] == 0, wrong[:5]
        assert faults["kills"] >= 2 and figures["checks_while_redis_down"] > 0
