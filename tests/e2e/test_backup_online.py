"""`consent-service backup` beside a running server taking registrations: the copy is one moment's state."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path

import httpx

from consent_service.bootstrap import opened
from consent_service.config import Settings
from consent_service.services import audit
from tests.e2e.conftest import BIN, running
from tests.integration.conftest import fresh_email
from tests.integration.test_backup import _answers, _embedded
from tests.integration.test_registrations import grant


async def _chain_intact(data_dir: Path) -> bool:
    async with opened(Settings.from_env({"CONSENT_DATA_DIR": str(data_dir)})) as ctx:
        return (await audit.verify(ctx)).intact


def _registration(http: httpx.Client, email: str) -> httpx.Response:
    person = {"contacts": [{"kind": "email", "value": email}]}
    return http.post(
        "/v1/registrations", json={"person": person, "choices": [grant("email")], "source": "web_form"}
    )


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "consent-service"), *args], env=env, capture_output=True, text=True)  # noqa: S603


def test_a_backup_taken_while_families_register_restores_whole(tmp_path: Path) -> None:
    source, target, archive = tmp_path / "source", tmp_path / "target", tmp_path / "online.tar.gz"
    source.mkdir()
    withdrawn, granted = fresh_email(), fresh_email()
    stop, written = threading.Event(), []
    with (
        running(source) as server,
        httpx.Client(base_url=server.base, headers=server.auth, timeout=10) as http,
    ):
        person = _registration(http, withdrawn).json()["person_id"]
        assert _registration(http, granted).status_code == 201
        withdrawal = {"purpose": "marketing", "channel": "email", "decision": "withdrawn"}
        recorded = http.post(
            f"/v1/people/{person}/consents", json={"choices": [withdrawal], "source": "web_form"}
        )
        assert recorded.status_code == 201, recorded.text

        def keep_registering() -> None:
            with httpx.Client(base_url=server.base, headers=server.auth, timeout=10) as own:
                while not stop.is_set():
                    written.append(_registration(own, fresh_email()).status_code)

        writer = threading.Thread(target=keep_registering)
        writer.start()
        try:
            while len(written) < 5:
                stop.wait(0.05)
            before = len(written)
            taken = _cli(_embedded(source), "backup", str(archive))
            after = len(written)
        finally:
            stop.set()
            writer.join()
    assert taken.returncode == 0, taken.stderr
    assert after > before and set(written) == {201}  # registrations were answered while it copied

    restored = _cli(_embedded(target), "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    # One moment's state: the hash chain the copy holds verifies to its head.
    assert asyncio.run(_chain_intact(target))
    answers = asyncio.run(_answers(target, withdrawn, granted))
    assert [(answer.allowed, answer.reason.value) for answer in answers] == [
        (False, "suppressed"),
        (True, "consent_granted"),
    ]
