"""Contract fuzzing: schemathesis generates requests from the service's own OpenAPI document
(examples, coverage, fuzzing and stateful phases, fixed seed, NUL bytes allowed) against a real
server. No request may get a server error, and every answer must be one the document declares:
its status, its content type, its body's schema and headers; public routes must really be public
and the others must refuse a request without a key.

A schema-valid request may be refused only with 404 or 409, or with 422 where the operation's 422
states a rule no schema can state (an unknown purpose, a phone number that does not exist:
``contract.BUSINESS_RULES``); ``schemathesis.toml`` beside this file says so. Every request outside
the schema must be refused. Two checks are left out:

- ``ensure_resource_availability``: a stateful sequence may erase the person it created before it
  reads them back, and 404 is then right.
- ``use_after_free``: ``DELETE /v1/webhooks/{id}`` stops a webhook but keeps its record and dead
  letters for audit, so listing them afterwards is meant to work.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from consent_service.api.contract import BUSINESS_RULES
from tests.e2e.conftest import running
from tests.prove import harness as figures

pytestmark = pytest.mark.prove

BIN = Path(sys.executable).parent
LONG = os.environ.get("PROVE_LONG") == "1"
SEED = "20261122"
EXCLUDED = "ensure_resource_availability,use_after_free"
CONFIG = Path(__file__).with_name("schemathesis.toml")


def config(directory: Path) -> Path:
    """``schemathesis.toml`` with 422 allowed on exactly the operations whose 422 states a business rule."""
    allowed = '["2xx", "401", "403", "404", "409", "422"]'
    blocks = [
        f'\n[[operations]]\ninclude-name = "{method.upper()} {path}"\n'
        f"checks.positive_data_acceptance.expected-statuses = {allowed}\n"
        for path, method in sorted(BUSINESS_RULES)
    ]
    written = directory / "schemathesis.toml"
    written.write_text(CONFIG.read_text() + "".join(blocks))
    return written


def test_the_api_keeps_its_own_contract(tmp_path: Path) -> None:
    with running(tmp_path, CONSENT_PUBLIC_RATE_LIMIT="1000000") as server:
        ndjson = tmp_path / "schemathesis.json"
        done = subprocess.run(  # noqa: S603
            [
                str(BIN / "schemathesis"),
                "--config-file",
                str(config(tmp_path)),
                "run",
                f"{server.base}/docs/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                EXCLUDED,
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
                str(ndjson),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
        cases = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
        assert cases is not None, done.stdout[-3000:]
        figures.report(
            "schemathesis",
            {"generated": int(cases[1]), "passed": int(cases[2]), "failures": 0, "excluded": EXCLUDED},
        )
