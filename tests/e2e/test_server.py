"""The service as a person starts it: `consent-service serve` on a fresh data dir, over real HTTP."""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.e2e.conftest import BIN, Server


def test_first_start_prints_a_working_key_once_and_seeds_the_catalogue(server: Server) -> None:
    base, key, data_dir = server.base, server.key, server.data_dir
    assert key.startswith("csk_")
    auth = {"Authorization": f"Bearer {key}"}
    purposes = httpx.get(f"{base}/v1/purposes", headers=auth).json()["items"]
    assert {p["code"] for p in purposes} >= {"marketing", "testimonial", "administrative"}
    assert (data_dir / "consent.db").exists()
    assert oct((data_dir / "secrets.json").stat().st_mode & 0o777) == "0o600"


def test_a_form_then_a_mailing_tool_over_http(server: Server) -> None:
    base, key = server.base, server.key
    auth = {"Authorization": f"Bearer {key}"}
    body = {
        "person": {"contacts": [{"kind": "email", "value": "Parent@Example.org"}]},
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
    }
    assert httpx.post(f"{base}/v1/registrations", json=body, headers=auth).status_code == 201
    answer = httpx.post(
        f"{base}/v1/checks",
        json={"purpose": "marketing", "channel": "email", "to": "parent@example.org"},
        headers=auth,
    ).json()
    assert (answer["allowed"], answer["reason"]) == (True, "consent_granted")


def test_keys_create_prints_the_key_alone_on_the_last_line(server: Server) -> None:
    base, data_dir = server.base, server.data_dir
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


def test_interactive_docs_are_served(server: Server) -> None:
    base = server.base
    assert httpx.get(f"{base}/docs").status_code == 200
    assert httpx.get(f"{base}/docs/openapi.json").json()["info"]["title"] == "consent-service"
