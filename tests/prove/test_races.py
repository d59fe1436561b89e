"""Concurrency: two worker processes race grants and withdrawals, with random effective times, on
the same people. The state now and at past moments must equal the fold of what was acknowledged
(DESIGN §2), and no serialisation failure or deadlock may reach a caller as a 5xx."""

from __future__ import annotations

import os
import random
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.prove.harness import LONG, Killable, report
from tests.support.services import private_postgres

pytestmark = pytest.mark.prove

PEOPLE, ROUNDS, RACERS = (20, 60, 6) if LONG else (6, 25, 6)
NOTICE = {"purpose": "marketing", "version": 1}


def test_racing_choices_fold_to_the_model(tmp_path: Path) -> None:
    with private_postgres() as postgres:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")},
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": postgres.database_url("postgres"),
            "CONSENT_FINGERPRINT_KEY": secrets.token_hex(32),
            "CONSENT_LINK_SIGNING_KEY": secrets.token_hex(32),
            "CONSENT_ENCRYPTION_KEY": secrets.token_hex(32),
            "CONSENT_LOG_FORMAT": "text",
        }
        server = Killable(env, tmp_path, workers=2)
        server.command("migrate")
        key = server.command(
            "keys", "create", "--name", "races", "--scope", "forms", "--scope", "staff", "--scope", "checks"
        )
        server.start()
        headers = {"Authorization": f"Bearer {key}"}
        start = datetime.now(UTC).replace(microsecond=0)
        people: list[tuple[str, str]] = []
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
            for _ in range(PEOPLE):
                email = f"race.{uuid.uuid4().hex[:12]}@example.org"
                made = http.post(
                    "/v1/registrations",
                    json={
                        "person": {"contacts": [{"kind": "email", "value": email}]},
                        "choices": [],
                        "source": "web_form",
                    },
                )
                people.append((made.json()["person_id"], email))

        def racer(seed: int) -> tuple[list[tuple[str, datetime, bool]], list[int]]:
            rng = random.Random(seed)
            stated: list[tuple[str, datetime, bool]] = []
            failures: list[int] = []
            with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
                for _ in range(ROUNDS):
                    person, _ = rng.choice(people)
                    withdrawn = rng.random() < 0.5
                    at = start - timedelta(seconds=rng.randrange(0, 120))
                    choice: dict[str, object] = {
                        "purpose": "marketing",
                        "channel": "email",
                        "decision": "withdrawn" if withdrawn else "granted",
                    }
                    if not withdrawn:
                        choice.update(notice=NOTICE, affirmative_action="ticked_box", pre_ticked=False)
                    response = http.post(
                        f"/v1/people/{person}/consents",
                        json={"choices": [choice], "source": "web_form", "effective_at": at.isoformat()},
                    )
                    if response.status_code == 201:
                        stated.append((person, at, withdrawn))
                    else:
                        failures.append(response.status_code)
            return stated, failures

        with ThreadPoolExecutor(RACERS) as pool:
            results = list(pool.map(racer, range(RACERS)))
        stated = [s for r, _ in results for s in r]
        failures = [f for _, fs in results for f in fs]

        mismatches = []
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
            for person, _ in people:
                mine = [(at, withdrawn) for p, at, withdrawn in stated if p == person]
                for seconds in (None, 30, 60, 90):
                    at = None if seconds is None else start - timedelta(seconds=seconds)
                    standing = [c for c in mine if at is None or c[0] <= at]
                    # The latest effective time stands; at a tie the withdrawal (True sorts last).
                    expected = "none" if not standing else ("withdrawn" if max(standing)[1] else "granted")
                    params = {} if at is None else {"at": at.isoformat()}
                    items = http.get(f"/v1/people/{person}/consents", params=params).json()["items"]
                    got = next(
                        (
                            i["status"]
                            for i in items
                            if i["purpose"] == "marketing" and i["channel"] == "email"
                        ),
                        "none",
                    )
                    if got != expected:
                        mismatches.append((person, at, expected, got))
        server.stop()
        report(
            "races",
            {
                "acknowledged": len(stated),
                "refused": len(failures),
                "server_errors": sum(f >= 500 for f in failures),
                "mismatches": len(mismatches),
            },
        )
        assert not [f for f in failures if f >= 500]
        assert mismatches == []
        assert len(stated) == RACERS * ROUNDS
