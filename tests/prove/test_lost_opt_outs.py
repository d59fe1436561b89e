"""DESIGN §4.1, Jepsen-style: no acknowledged opt-out is ever lost.

Client processes send opt-outs for people of their own — withdrawals over the API and one-click
unsubscribes — and log each as acknowledged (2xx), refused (4xx) or unknown (5xx, timeout, reset),
while a nemesis SIGKILLs and restarts the server (2 workers) and now and then crashes PostgreSQL
(`pg_ctl stop -m immediate`). An unsubscribe that meets the database down is spooled on disk and
acknowledged. At the end (once the spool has drained) every acknowledged opt-out must be in the
ledger, its suppression in force and a check must deny it; and nothing may be there that was never sent.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import ContactPoint
from consent_service.domain.fingerprints import Fingerprinter
from tests.prove.harness import LONG, Killable, report
from tests.support.services import private_postgres, private_redis

pytestmark = pytest.mark.prove

CLIENTS = 4
MIN_ACKED, MIN_KILLS, MAX_SECONDS = (5_000, 30, 420) if LONG else (1_000, 6, 120)
GRANT = {
    "purpose": "marketing",
    "channel": "email",
    "decision": "granted",
    "affirmative_action": "ticked_box",
    "pre_ticked": False,
    "notice": {"purpose": "marketing", "version": 1},
}
WITHDRAW = {"purpose": "marketing", "channel": "email", "decision": "withdrawn"}


def outcome(response: httpx.Response | None) -> str:
    if response is None or response.status_code >= 500:
        return "unknown"
    return "acknowledged" if response.status_code < 300 else "refused"


def client(base: str, key: str, seed: int, stop_at: float) -> list[dict[str, Any]]:
    """One client process: opt-outs for its own people until ``stop_at``, each with its outcome."""
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {key}"}
    log: list[dict[str, Any]] = []
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.time() < stop_at:
            email = f"jepsen.{uuid.uuid4().hex[:16]}@example.org"
            entry: dict[str, Any] = {
                "email": email,
                "kind": "withdrawal" if rng.random() < 0.5 else "one-click",
            }
            try:
                if entry["kind"] == "withdrawal":
                    made = http.post(
                        "/v1/registrations",
                        json={
                            "person": {"contacts": [{"kind": "email", "value": email}]},
                            "choices": [GRANT],
                            "source": "web_form",
                        },
                        headers=auth,
                    )
                    if made.status_code != 201:
                        time.sleep(0.05)
                        continue
                    entry["person_id"] = made.json()["person_id"]
                    log.append(entry)
                    response = http.post(
                        f"/v1/people/{entry['person_id']}/consents",
                        json={"choices": [WITHDRAW], "source": "web_form"},
                        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    )
                else:
                    minted = http.post(
                        "/v1/unsubscribe-links",
                        json={"to": email, "channel": "email", "purpose": "marketing"},
                        headers=auth,
                    )
                    if minted.status_code != 201:
                        time.sleep(0.05)
                        continue
                    log.append(entry)
                    path = minted.json()["url"].removeprefix(base)
                    response = http.post(path, data={"List-Unsubscribe": "One-Click"})
                    entry["spooled"] = response.status_code == 200 and "held safely" in response.text
                entry["outcome"] = outcome(response)
            except httpx.TransportError:
                # Sent or not, and committed or not, nobody can say: only the record can.
                entry["outcome"] = "unknown"
                time.sleep(0.05)
    return log


def test_no_acknowledged_opt_out_is_lost(tmp_path: Path) -> None:
    fingerprint_key = secrets.token_hex(32)
    with private_postgres() as postgres, private_redis() as redis:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")},
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": postgres.database_url("postgres"),
            "CONSENT_REDIS_URL": redis.url,
            "CONSENT_FINGERPRINT_KEY": fingerprint_key,
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
            "CONSENT_PUBLIC_RATE_LIMIT": "1000000",
            "CONSENT_LOG_FORMAT": "text",
        }
        server = Killable(env, tmp_path)
        env["CONSENT_PUBLIC_BASE_URL"] = server.base
        server.command("migrate")
        key = server.command(
            "keys",
            "create",
            "--name",
            "jepsen",
            "--scope",
            "admin",
            "--scope",
            "forms",
            "--scope",
            "checks",
            "--scope",
            "staff",
        )
        server.start()

        stop_at = time.time() + MAX_SECONDS
        crashes = 0
        done = threading.Event()

        def nemesis() -> None:
            nonlocal crashes
            rng = random.Random(20261122)
            while not done.wait(rng.uniform(1.0, 3.0)):
                if rng.random() < 0.25:
                    postgres.stop("immediate")
                    crashes += 1
                    time.sleep(rng.uniform(0.5, 2.0))
                    postgres.start()
                else:
                    server.kill()
                    server.start()

        chaos = threading.Thread(target=nemesis, daemon=True)
        chaos.start()
        logs: list[dict[str, Any]] = []
        with ProcessPoolExecutor(CLIENTS) as pool:
            # Clients run in rounds so the run ends as soon as both minimums are met.
            while time.time() < stop_at:
                round_end = min(stop_at, time.time() + 10)
                futures = [
                    pool.submit(client, server.base, key, random.randrange(10**9), round_end)
                    for _ in range(CLIENTS)
                ]
                for future in futures:
                    logs += future.result()
                acked = sum(e.get("outcome") == "acknowledged" for e in logs)
                if acked >= MIN_ACKED and server.kills >= MIN_KILLS:
                    break
        done.set()
        chaos.join()
        if not postgres.running:
            postgres.start()
        server.kill()
        server.start()
        spool = tmp_path / "optout-spool.jsonl"
        drained_by = time.monotonic() + 60
        while spool.stat().st_size and time.monotonic() < drained_by:
            time.sleep(0.2)
        assert spool.stat().st_size == 0, "the spool did not drain"

        fingerprint = Fingerprinter(bytes.fromhex(fingerprint_key))
        fp = {e["email"]: fingerprint(ContactPoint(ContactKind.EMAIL, e["email"])) for e in logs}

        async def held() -> tuple[set[str], set[str]]:
            connection = await asyncpg.connect(postgres.dsn)
            try:
                withdrawn = {
                    r["person_id"]
                    for r in await connection.fetch(
                        "SELECT person_id FROM consent_events WHERE decision = 'withdrawn'"
                    )
                }
                suppressed = {
                    r["fingerprint"]
                    for r in await connection.fetch(
                        "SELECT fingerprint FROM suppressions WHERE lifted_at IS NULL"
                    )
                }
            finally:
                await connection.close()
            return withdrawn, suppressed

        withdrawn, suppressed = asyncio.run(held())
        acked = [e for e in logs if e.get("outcome") == "acknowledged"]
        lost = [
            e
            for e in acked
            if fp[e["email"]] not in suppressed
            or (e["kind"] == "withdrawal" and e["person_id"] not in withdrawn)
        ]
        sent_people = {e.get("person_id") for e in logs}
        sent_fingerprints = set(fp.values())
        phantom_events = withdrawn - sent_people
        phantom_entries = suppressed - sent_fingerprints

        allowed = []
        auth = {"Authorization": f"Bearer {key}"}
        for start in range(0, len(acked), 10_000):
            batch = [e["email"] for e in acked[start : start + 10_000]]
            answer = httpx.post(
                f"{server.base}/v1/checks/bulk",
                json={"purpose": "marketing", "channel": "email", "to": batch},
                headers=auth,
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            allowed += [r["to"] for r in answer.json()["results"] if r["allowed"]]
        server.stop()

        figures = {
            "sent": len(logs),
            "acknowledged": len(acked),
            "spooled": sum(bool(e.get("spooled")) for e in acked),
            "refused": sum(e.get("outcome") == "refused" for e in logs),
            "unknown": sum(e.get("outcome") == "unknown" for e in logs),
            "server_kills": server.kills,
            "postgres_crashes": crashes,
            "lost": len(lost),
            "allowed_after_ack": len(allowed),
            "phantoms": len(phantom_events) + len(phantom_entries),
        }
        report("lost opt-outs", figures)
        assert figures["acknowledged"] >= MIN_ACKED and server.kills >= MIN_KILLS, figures
        assert lost == [] and allowed == [], (lost[:5], allowed[:5])
        assert not phantom_events and not phantom_entries
