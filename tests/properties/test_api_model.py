"""A Hypothesis state machine drives the real service over HTTP (on SQLite and on PostgreSQL) with
registrations, grants and withdrawals at random effective times, and checks every answer — now and
at points in the past — against a model of DESIGN §2 written plainly here."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from tests.e2e.conftest import (
    Server,
    postgres_and_redis,  # noqa: F401  (a fixture)
    running,
)

pytestmark = pytest.mark.prove

LONG = os.environ.get("PROVE_LONG") == "1"
NOTICE = {"purpose": "marketing", "version": 1}


class Model:
    """Per person, every choice stated; the one with the latest effective time stands, a withdrawal
    beats a grant at the same moment. A withdrawal that takes over also puts the address on the
    suppression list from its effective time; the grant that takes over from it lifts the entry as it
    is recorded (so a question about an earlier moment still finds the entry in force)."""

    def __init__(self) -> None:
        self.choices: dict[str, list[tuple[datetime, bool]]] = {}
        self.entries: dict[str, list[datetime]] = {}

    def state(self, chosen: list[tuple[datetime, bool]]) -> tuple[datetime, bool] | None:
        # (effective time, is withdrawal): max picks the latest, and at a tie the withdrawal.
        return max(chosen) if chosen else None

    def record(self, person: str, at: datetime, withdrawn: bool) -> None:
        held = self.state(self.choices.setdefault(person, []))
        self.choices[person].append((at, withdrawn))
        if withdrawn and (held is None or (at, withdrawn) > held):
            self.entries.setdefault(person, []).append(at)

    def allowed(self, person: str, at: datetime | None = None) -> bool:
        held = self.state([c for c in self.choices[person] if at is None or c[0] <= at])
        if held is None or held[1]:
            return False
        if at is None:
            return True  # the grant now standing lifted every entry as it was recorded
        return not any(entry <= at for entry in self.entries.get(person, []))


def machine_for(server: Server) -> type[RuleBasedStateMachine]:
    client = httpx.Client(base_url=server.base, headers=server.auth, timeout=30)
    start = datetime.now(UTC).replace(microsecond=0)

    class ConsentMachine(RuleBasedStateMachine):
        people = Bundle("people")

        @initialize()
        def fresh_model(self) -> None:
            self.model = Model()
            self.emails: dict[str, str] = {}

        @rule(target=people, granted=st.booleans(), minutes=st.integers(0, 60))
        def register(self, granted: bool, minutes: int) -> str:
            email = f"sm.{uuid.uuid4().hex[:12]}@example.org"
            at = start - timedelta(minutes=minutes)
            choice: dict[str, object] = {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted" if granted else "withdrawn",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
            }
            if granted:
                choice["notice"] = NOTICE
            body = {
                "person": {"contacts": [{"kind": "email", "value": email}]},
                "choices": [choice],
                "source": "web_form",
                "effective_at": at.isoformat(),
            }
            made = client.post("/v1/registrations", json=body)
            assert made.status_code == 201, made.text
            person = str(made.json()["person_id"])
            self.model.record(person, at, withdrawn=not granted)
            self.emails[person] = email
            return person

        @rule(person=people, granted=st.booleans(), minutes=st.integers(0, 60))
        def choose(self, person: str, granted: bool, minutes: int) -> None:
            at = start - timedelta(minutes=minutes)
            choice: dict[str, object] = {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted" if granted else "withdrawn",
                "affirmative_action": "ticked_box",
                "pre_ticked": False,
            }
            if granted:
                choice["notice"] = NOTICE
            made = client.post(
                f"/v1/people/{person}/consents",
                json={"choices": [choice], "source": "web_form", "effective_at": at.isoformat()},
            )
            assert made.status_code == 201, made.text
            self.model.record(person, at, withdrawn=not granted)

        @rule(person=people, minutes=st.none() | st.integers(0, 61))
        def check(self, person: str, minutes: int | None) -> None:
            body: dict[str, object] = {"purpose": "marketing", "channel": "email", "to": self.emails[person]}
            at = None if minutes is None else start - timedelta(minutes=minutes)
            if at is not None:
                body["at"] = at.isoformat()
            answer = client.post("/v1/checks", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["allowed"] is self.model.allowed(person, at), (
                answer.json(),
                self.model.choices[person],
            )

        @invariant()
        def nobody_withdrawn_is_allowed_now(self) -> None:
            for person, email in list(self.emails.items())[-3:]:
                if not self.model.allowed(person):
                    answer = client.post(
                        "/v1/checks", json={"purpose": "marketing", "channel": "email", "to": email}
                    )
                    assert answer.json()["allowed"] is False

    ConsentMachine.TestCase.settings = settings(
        max_examples=60 if LONG else 15,
        stateful_step_count=30 if LONG else 12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return ConsentMachine


def test_the_api_follows_the_model_on_sqlite(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        machine_for(server).TestCase().runTest()


def test_the_api_follows_the_model_on_postgresql(tmp_path: Path, postgres_and_redis: dict[str, str]) -> None:  # noqa: F811
    with running(tmp_path, **postgres_and_redis) as server:
        machine_for(server).TestCase().runTest()
