"""A plain, non-editable install migrates and serves: the wheel carries the migrations.

Builds the project's wheel from a copy of exactly what the Docker build context holds, installs it
(without dependencies) into a fresh virtual environment that borrows this one's installed
dependencies, and runs `consent-service migrate` then `serve` from there, outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, stopped

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
#: What the Dockerfile copies into its build stage (.dockerignore lets nothing else in).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "alembic", "consent_service")


def _run(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter, pip and console script
        [str(part) for part in command], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh virtual environment with the wheel installed into it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    # The locked setuptools in this environment builds it, offline.
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", work / "dist", source)  # fmt: skip
    (wheel,) = (work / "dist").glob("consent_service-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel)
    # The dependencies come from this environment's site-packages, added as a plain path: its .pth
    # files (among them the editable install's finder for the checkout) are not run, so
    # `consent_service` can only come from the wheel.
    (own,) = Path(venv / "lib").glob("python3.*/site-packages")
    (own / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_the_wheel_ships_the_migrations(installed: Path, tmp_path: Path) -> None:
    where = _run(
        installed / "python",
        "-c",
        "import consent_service, consent_service.cli.database as d; print(consent_service.__file__);"
        " print(d.migrations())",
        cwd=tmp_path,
    ).split()
    package = Path(where[0]).parent
    assert package.is_relative_to(installed.parent), f"{package} is not the installed wheel"
    assert Path(where[1]) == package / "_migrations"
    shipped = sorted(p.name for p in (package / "_migrations" / "versions").glob("*.py"))
    assert shipped == sorted(p.name for p in (ROOT / "alembic" / "versions").glob("*.py"))


def test_a_wheel_install_migrates_and_serves(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CONSENT_DATA_DIR": str(tmp_path / "data")}
    env.pop("CONSENT_DATABASE_URL", None)
    assert "database is up to date" in _run(installed / "consent-service", "migrate", env=env, cwd=tmp_path)

    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(installed / "consent-service"), "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, deadline = 0, time.monotonic() + 30
        while status != 200 and time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code
            except httpx.TransportError:
                time.sleep(0.1)
        assert status == 200, log.read_text()
        served = httpx.get(f"http://127.0.0.1:{port}/docs/openapi.json", timeout=5).json()["info"]["version"]
    finally:
        stopped(process, log)
    # The version is written once (consent_service.__version__): the wheel's metadata, the OpenAPI
    # document and `--version` all say the same.
    metadata = _run(
        installed / "python", "-c", "import importlib.metadata as m; print(m.version('consent-service'))"
    )
    assert served == metadata.strip()
    assert _run(installed / "consent-service", "--version").strip() == f"consent-service {served}"
