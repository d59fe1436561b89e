"""Contract fuzzing: schemathesis generates requests from the service's own OpenAPI document
(examples, coverage, fuzzing and stateful phases, fixed seed, NUL bytes allowed) against a real
server, and no request may get a server error.

Only the server-error check is asserted so far: the schema does not yet declare every 4xx problem
answer, so schemathesis's conformance checks report undocumented statuses and content types
(docs/RELIABILITY.md lists what remains)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import running

pytestmark = pytest.mark.prove

BIN = Path(sys.executable).parent
LONG = os.environ.get("PROVE_LONG") == "1"
SEED = "20261122"


def test_the_api_keeps_its_own_contract(tmp_path: Path) -> None:
    with running(tmp_path, CONSENT_PUBLIC_RATE_LIMIT="1000000") as server:
        report = tmp_path / "schemathesis.json"
        done = subprocess.run(  # noqa: S603
            [
                str(BIN / "schemathesis"),
                "run",
                f"{server.base}/docs/openapi.json",
                "--checks",
                "not_a_server_error",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--seed",
                SEED,
                "--max-examples",
                "60" if LONG else "8",
                "--max-time",
                "240" if LONG else "90",
                "--generation-allow-x00",
                "true",
                "--header",
                f"Authorization: Bearer {server.key}",
                "--report",
                "ndjson",
                "--report-ndjson-path",
                str(report),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        print(done.stdout[-3000:])
        assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
