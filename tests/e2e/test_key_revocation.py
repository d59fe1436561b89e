"""A revoked API key is refused by every worker within the README's bound (1 s), however warm their
memory of it: two workers, a key used on both until each holds its verdict, then revoked (over the
API, and on the command line beside the running server), then tried again and again on both.

Each request opens a new connection, so the kernel hands it to whichever worker accepts first; forty
of them reach both workers (as in test_workers.py).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from tests.e2e.conftest import BIN, Server, running

#: The bound the README states.
BOUND = 1.0
WARM_UP = 40


def request(server: Server, method: str, path: str, key: str, body: object = None) -> tuple[int, str]:
    """A new connection per request, so each is a new draw of the worker that serves it."""
    url = urlsplit(server.base + path)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, url.path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def new_key(server: Server, name: str) -> tuple[str, str]:
    status, text = request(server, "POST", "/v1/keys", server.key, {"name": name, "scopes": ["checks"]})
    assert status == 201, text
    made = json.loads(text)
    return made["id"], made["key"]


def revocation_reaches_every_worker(server: Server, revoke: Callable[[str], None]) -> float:
    """Seconds from the revocation's answer to the last request the key was still accepted on
    (0.0: none was); fails if any request more than ``BOUND`` after it was accepted."""
    key_id, secret = new_key(server, f"revoked {revoke.__name__}")
    warm = [request(server, "GET", "/v1/purposes", secret)[0] for _ in range(WARM_UP)]
    assert warm == [200] * WARM_UP
    revoke(key_id)
    answered = time.monotonic()
    last_accepted = 0.0
    tried = []
    while time.monotonic() - answered < 2 * BOUND:
        status, _ = request(server, "GET", "/v1/purposes", secret)
        since = time.monotonic() - answered
        tried.append((round(since, 3), status))
        if status == 200:
            last_accepted = since
        else:
            assert status == 401, tried
    assert len(tried) >= WARM_UP, "too few tries to have reached both workers"
    assert last_accepted <= BOUND, tried
    assert all(status == 401 for since, status in tried if since > BOUND), tried
    return last_accepted


def over_the_api(server: Server) -> Callable[[str], None]:
    def over_the_api(key_id: str) -> None:
        status, text = request(server, "DELETE", f"/v1/keys/{key_id}", server.key)
        assert status == 200, text
        assert json.loads(text)["revoked_at"] is not None

    return over_the_api


def on_the_command_line(server: Server, env: dict[str, str]) -> Callable[[str], None]:
    def on_the_command_line(key_id: str) -> None:
        subprocess.run(  # noqa: S603
            [str(BIN / "consent-service"), "keys", "revoke", key_id],
            env={**os.environ, "CONSENT_DATA_DIR": str(server.data_dir), **env},
            check=True,
            capture_output=True,
            timeout=60,
        )

    return on_the_command_line


def test_a_revoked_key_is_refused_by_both_workers_on_sqlite(tmp_path: Path) -> None:
    with running(tmp_path, "--workers", "2") as server:
        assert revocation_reaches_every_worker(server, over_the_api(server)) == 0.0
        assert revocation_reaches_every_worker(server, on_the_command_line(server, {})) == 0.0


def test_a_revoked_key_is_refused_by_both_workers_on_postgresql_and_redis(
    tmp_path: Path, postgres_and_redis: dict[str, str]
) -> None:
    with running(tmp_path, "--workers", "2", **postgres_and_redis) as server:
        assert revocation_reaches_every_worker(server, over_the_api(server)) == 0.0
        assert revocation_reaches_every_worker(server, on_the_command_line(server, postgres_and_redis)) == 0.0


def test_without_a_shared_signal_the_one_second_bound_still_holds(
    tmp_path: Path, postgres_and_redis: dict[str, str]
) -> None:
    """PostgreSQL without Redis: nothing tells the other worker, so its memory's one second is the bound,
    and the revocation waits that second before it answers: once answered, no worker accepts the key."""
    no_redis = {k: v for k, v in postgres_and_redis.items() if k != "CONSENT_REDIS_URL"}
    with running(tmp_path, "--workers", "2", **no_redis) as server:
        started = time.monotonic()
        assert revocation_reaches_every_worker(server, over_the_api(server)) == 0.0
        assert time.monotonic() - started >= BOUND
