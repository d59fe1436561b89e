"""The service as a person starts it: `consent-service serve` on a fresh data dir, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    data_dir = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {**os.environ, "CONSENT_DATA_DIR": str(data_dir)}
    env.pop("CONSENT_DATABASE_URL", None)
    log = data_dir / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(BIN / "consent-service"), "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the server did not become ready:\n{log.read_text()}")
        lines = log.read_text().splitlines()
        assert lines[0].startswith("First start"), lines
        yield base, lines[1].strip(), data_dir
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_first_start_prints_a_working_key_once_and_seeds_the_catalogue(server: tuple[str, str, Path]) -> None:
    base, key, data_dir = server
    assert key.startswith("csk_")
    auth = {"Authorization": f"Bearer {key}"}
    purposes = httpx.get(f"{base}/v1/purposes", headers=auth).json()["items"]
    assert {p["code"] for p in purposes} >= {"marketing", "testimonial", "administrative"}
    assert (data_dir / "consent.db").exists()
    assert oct((data_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"


def test_a_form_then_a_mailing_tool_over_http(server: tuple[str, str, Path]) -> None:
    base, key, _ = server
    auth = {"Authorization": f"Bearer {key}"}
    body = {
        "person": {"contacts": [{"kind": "email", "value": "Parent@Example.org"}]},
        "choices": [
            {
                "purpose": "marketing",
                "channel": "email",
                "decision": "granted",
                "notice": {"purpose": "marketing", "version": 1},
            }
        ],
        "source": "web_form",
    }
    assert httpx.post(f"{base}/v1/registrations", json=body, headers=auth).status_code == 201
    answer = httpx.post(
        f"{base}/v1/checks",
        json={"purpose": "marketing", "channel": "email", "to": "parent@example.org"},
        headers=auth,
    ).json()
    assert (answer["allowed"], answer["reason"]) == (True, "consent_granted")


def test_keys_create_prints_the_key_alone_on_the_last_line(server: tuple[str, str, Path]) -> None:
    base, _, data_dir = server
    env = {**os.environ, "CONSENT_DATA_DIR": str(data_dir)}
    env.pop("CONSENT_DATABASE_URL", None)
    made = subprocess.run(  # noqa: S603
        [str(BIN / "consent-service"), "keys", "create", "--name", "mailer", "--scope", "checks"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {key}"}
    check = {"purpose": "marketing", "channel": "email", "to": "someone@example.org"}
    assert httpx.post(f"{base}/v1/checks", json=check, headers=auth).status_code == 200
    assert httpx.get(f"{base}/v1/people", params={"reference": "x"}, headers=auth).status_code == 403


def test_interactive_docs_are_served(server: tuple[str, str, Path]) -> None:
    base, _, _ = server
    assert httpx.get(f"{base}/docs").status_code == 200
    assert httpx.get(f"{base}/docs/openapi.json").json()["info"]["title"] == "consent-service"
