"""`audit verify` and `retention run` draw progress bars at a terminal and still print their result."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_rights import CLI, embedded_with_people


def _at_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """The command with stdout and stderr on a pseudo-terminal, as an operator runs it; all it wrote."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(  # noqa: S603
        [CLI, *args], env={**env, "TERM": "xterm", "COLUMNS": "100"}, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal is gone: the command has ended
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    return process.wait(timeout=60), output.decode(errors="replace")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return embedded_with_people(tmp_path, 3)


def test_audit_verify_draws_a_bar_at_a_terminal_and_prints_its_result(
    env: dict[str, str],
) -> None:
    status, output = _at_a_terminal(["audit", "verify"], env)
    assert status == 0, output
    assert "verifying the hash chain" in output and "3/3" in output
    assert "ok: 3 events, 0 checkpoints, the hash chains verify" in output


def test_retention_run_draws_a_bar_at_a_terminal_and_prints_its_result(
    env: dict[str, str],
) -> None:
    status, output = _at_a_terminal(["retention", "run", "--years", "1"], env)
    assert status == 0, output
    assert "erasing" in output
    assert "erased 0 people with no activity for 1 years" in output


def test_piped_the_commands_print_their_result_alone(env: dict[str, str]) -> None:
    verified = subprocess.run([CLI, "audit", "verify"], env=env, capture_output=True, text=True)  # noqa: S603
    assert verified.returncode == 0
    assert verified.stdout == "ok: 3 events, 0 checkpoints, the hash chains verify\n"
    retained = subprocess.run(  # noqa: S603
        [CLI, "retention", "run", "--years", "1"], env=env, capture_output=True, text=True
    )
    assert retained.returncode == 0
    assert retained.stdout == (
        "erased 0 people with no activity for 1 years\nforgot 0 idempotency keys older than 30 days\n"
    )
    assert "erasing" not in verified.stderr + retained.stderr
    assert "verifying" not in verified.stderr + retained.stderr
