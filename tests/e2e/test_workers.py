"""Several worker processes: an opt-out taken by one is denied by every other on the very next check.

Each request opens a new connection, so the kernel hands it to whichever worker accepts first; with
warm caches on every worker before each opt-out, a stale "allowed" anywhere would show.
"""

from __future__ import annotations

import http.client
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import Server, running

ROUNDS = 60


def fresh_email() -> str:
    return f"worker.{secrets.token_hex(6)}@example.org"


@dataclass
class Reply:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def _post(server: Server, path: str, body: object, content_type: str = "application/json") -> Reply:
    """A new connection per request, so each is a new draw of the worker that serves it."""
    url = urlsplit(server.base + path)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {**server.auth, "Content-Type": content_type, "Connection": "close"}
        connection.request("POST", url.path, body=payload, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.read().decode())
    finally:
        connection.close()


def check(server: Server, email: str) -> dict[str, object]:
    response = _post(server, "/v1/checks", {"purpose": "marketing", "channel": "email", "to": email})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def opt_outs_reach_every_worker(server: Server) -> None:
    for round_ in range(ROUNDS):
        email = fresh_email()
        registered = _post(
            server,
            "/v1/registrations",
            {
                "person": {"contacts": [{"kind": "email", "value": email}]},
                "choices": [
                    {
                        "purpose": "marketing",
                        "channel": "email",
                        "decision": "granted",
                        "affirmative_action": "ticked_box",
                        "pre_ticked": False,
                        "notice": {"purpose": "marketing", "version": 1},
                    }
                ],
                "source": "web_form",
            },
        )
        assert registered.status_code == 201, registered.text
        assert all(check(server, email)["allowed"] for _ in range(6)), round_
        if round_ % 2:
            link = _post(
                server, "/v1/unsubscribe-links", {"to": email, "channel": "email", "purpose": "marketing"}
            )
            path = link.json()["url"].removeprefix(server.base)
            opted_out = _post(
                server, path, b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
            )
        else:
            person = registered.json()["person_id"]
            opted_out = _post(
                server,
                f"/v1/people/{person}/consents",
                {
                    "choices": [{"purpose": "marketing", "channel": "email", "decision": "withdrawn"}],
                    "source": "web_form",
                },
            )
        assert opted_out.status_code in (200, 201), opted_out.text
        answers = [check(server, email) for _ in range(6)]
        assert not any(a["allowed"] for a in answers), (round_, answers)


def checks_counted(server: Server) -> float:
    """The checks ``/metrics`` has counted, every worker's added up."""
    url = urlsplit(server.base + "/metrics")
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request("GET", url.path)
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("consent_checks_total{")
    )


def test_two_workers_on_sqlite_share_the_host_signal(tmp_path: Path) -> None:
    with running(tmp_path, "--workers", "2") as server:
        opt_outs_reach_every_worker(server)
        # Both workers answered checks, and /metrics counts every one of them: forked workers once
        # counted in their own memory only, and /metrics answered empty.
        assert checks_counted(server) == ROUNDS * 12


def test_two_workers_on_postgresql_share_the_redis_signal(
    tmp_path: Path, postgres_and_redis: dict[str, str]
) -> None:
    with running(tmp_path, "--workers", "2", **postgres_and_redis) as server:
        opt_outs_reach_every_worker(server)
