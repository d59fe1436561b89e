"""An integrator's first step: generate a client from openapi/openapi.json with openapi-python-client,
the generator Python teams reach for, and call the service with it.

The generator skips what it cannot express and says so in a warning, leaving a client with routes or
models missing (it once dropped ``POST /v1/suppressions`` over two enums both titled ``Scope``). The
one warning accepted is the bulk check's NDJSON body, which no OpenAPI generator turns into code: the
JSON form of that route is generated.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.conftest import BIN, Server

SCHEMA = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
#: Not `consent_client`: that is this repository's own typed client (clients/python), imported by other tests.
PACKAGE = "generated_consent_client"

#: The generator's warning for the bulk check's NDJSON body, which is the one it may give.
NDJSON_WARNING = re.compile(
    r"WARNING parsing POST /v1/checks/bulk within checks\.\s+"
    r"Unsupported content type application/x-ndjson\s+\{.*?\n\}\n",
    re.DOTALL,
)
#: What the generator prints around its warnings, which are not warnings themselves.
FRAME = re.compile(
    r"Warning\(s\) encountered while generating\. Client was generated, but some pieces may be missing"
    r"|If you believe this was a mistake or this tool is missing a feature you need, please open an "
    r"issue at \S+"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The client package generated as its README says (ruff on PATH formats it), and what it printed."""
    root = tmp_path_factory.mktemp("generated")
    done = subprocess.run(  # noqa: S603
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(SCHEMA),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        yield importlib.import_module(PACKAGE), done.stdout + done.stderr
        for name in [m for m in list(sys.modules) if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_generator_warns_of_nothing_but_the_ndjson_body(generated: tuple[ModuleType, str]) -> None:
    _, printed = generated
    assert NDJSON_WARNING.search(printed), printed
    rest = FRAME.sub("", NDJSON_WARNING.sub("", printed))
    lines = [line for line in rest.splitlines() if line.strip() and not line.startswith("Generating ")]
    rest = "\n".join(lines)
    assert rest == "", f"openapi-python-client warned:\n{rest}"


def test_every_route_of_the_document_is_in_the_client(generated: tuple[ModuleType, str]) -> None:
    package, _ = generated
    paths = json.loads(SCHEMA.read_text())["paths"]
    operations = [operation["operationId"] for item in paths.values() for operation in item.values()]
    modules = {path.stem for path in Path(str(package.__file__)).parent.glob("api/*/*.py")}
    names = {re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower() for op in operations}
    assert names <= modules, sorted(names - modules)


def test_the_generated_client_suppresses_and_checks_against_the_real_service(
    generated: tuple[ModuleType, str], server: Server
) -> None:
    package, _ = generated
    models = importlib.import_module(f"{PACKAGE}.models")
    add = importlib.import_module(f"{PACKAGE}.api.suppressions.v1_suppressions_add")
    check = importlib.import_module(f"{PACKAGE}.api.checks.v1_checks_check")
    address = "generated-client@example.org"
    with package.AuthenticatedClient(base_url=server.base, token=server.key) as client:

        def may_market() -> object:
            body = models.CheckIn(purpose="marketing", channel=models.Channel.EMAIL, to=address)
            return check.sync(client=client, body=body)

        before = may_market()
        assert isinstance(before, models.CheckOut), before
        assert before.allowed is False
        assert before.reason == models.Reason.NO_CONSENT

        entry = add.sync(
            client=client,
            body=models.SuppressionIn(
                to=address,
                channel=models.SuppressionInChannel.EMAIL,
                reason=models.SuppressionReason.COMPLAINT,
            ),
        )
        assert isinstance(entry, models.SuppressionOut), entry
        after = may_market()
        assert isinstance(after, models.CheckOut), after
        assert after.reason == models.Reason.SUPPRESSED
