"""A service that can be killed: `consent-service serve` in its own process group on a fixed port,
over a private PostgreSQL and Redis, with the results of a proving run written where asked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.services import free_port

BIN = Path(sys.executable).parent
LONG = os.environ.get("PROVE_LONG") == "1"


@dataclass
class Killable:
    env: dict[str, str]
    data_dir: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [str(BIN / "consent-service"), *args], env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def start(self, timeout: float = 60) -> None:
        """Start and wait until it answers; a database still starting up makes it try again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            command = [str(BIN / "consent-service"), "serve", "--port", str(self.port)]
            with (self.data_dir / f"server-{self.starts}.log").open("w") as log:
                self.process = subprocess.Popen(  # noqa: S603
                    [*command, "--workers", str(self.workers)],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.starts += 1
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if httpx.get(f"{self.base}/health/live", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    time.sleep(0.05)
            time.sleep(0.5)
        raise RuntimeError(f"the server did not start; see {self.data_dir}")

    def kill(self) -> None:
        """SIGKILL the server and its workers: nothing flushed, nothing said goodbye."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.kills += 1
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures, and add them to the file PROVE_RESULTS names (for docs/RELIABILITY.md)."""
    print(f"\n{name}: {json.dumps(figures)}")
    target = os.environ.get("PROVE_RESULTS")
    if target:
        with Path(target).open("a") as out:
            out.write(json.dumps({"test": name, "long": LONG, **figures}) + "\n")
