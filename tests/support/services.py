"""Private PostgreSQL and Redis servers that a test may stop, kill, freeze and flush.

The machine's own servers are shared by every test run on it; a fault test that stopped them would
break everything else. These are real servers of the same versions, each with its own data directory
and port, torn down when the block ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError("PostgreSQL's server binaries (pg_ctl, initdb) are not installed")
    return Path(pg_ctl).parent


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; under root (CI here) run its tools as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own on a free port: start, stop, crash, freeze, thaw."""

    directory: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database (tests create their own databases on it)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def dsn(self) -> str:
        """libpq/asyncpg DSN of the `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            _as_postgres([str(self.bin / args[0]), *args[1:]]),
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def init(self, **settings: str) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._configure(
            "listen_addresses = '127.0.0.1'", "max_connections = 100", "shared_buffers = 32MB", **settings
        )

    def follow(self, primary: PrivatePostgres, **settings: str) -> None:
        """Become a hot standby of ``primary``, streaming from it: ``pg_basebackup -R``. The primary's
        default ``pg_hba.conf`` (``initdb -A trust``) already trusts replication connections from
        127.0.0.1, and ``wal_level = replica`` is PostgreSQL's default."""
        self._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.data), "-R", "-X", "stream", "--no-sync", "-c", "fast"),
        )
        self._configure("hot_standby = on", **settings)

    def _configure(self, *lines: str, **settings: str) -> None:
        """Appended to postgresql.conf, where a later line wins: this cluster's port and socket first."""
        every = [
            f"port = {self.port}",
            f"unix_socket_directories = '{self.directory}'",
            *lines,
            *(f"{name} = {value}" for name, value in settings.items()),
        ]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(every) + "\n")

    def start(self, timeout: float = 30) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "log"),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as the data is concerned: no checkpoint, WAL replay on start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def pids(self) -> list[int]:
        """The postmaster and every backend of this cluster (and no other cluster's)."""
        pid_file = self.data / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = subprocess.run(  # noqa: S603
            ["pgrep", "-P", str(postmaster)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return [postmaster, *(int(child) for child in children)]

    def freeze(self) -> None:
        """SIGSTOP every process: connections stay open but nothing answers, like a hung host."""
        for pid in self.pids():
            _signal(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.pids():
            _signal(pid, signal.SIGCONT)

    def show(self, setting: str) -> str:
        return subprocess.run(  # noqa: S603
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Atc", f"SHOW {setting}"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()


def _signal(pid: int, which: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, which)


@contextmanager
def private_postgres(**settings: str) -> Iterator[PrivatePostgres]:
    """A started cluster of our own; `settings` are appended to postgresql.conf (e.g. fsync="off")."""
    with _cluster("consent-pg-", _postgres_bin(), lambda server: server.init(**settings)) as server:
        yield server


@contextmanager
def private_replica(primary: PrivatePostgres, **settings: str) -> Iterator[PrivatePostgres]:
    """A started hot standby of ``primary`` on a free port, in a data dir of its own
    (``PrivatePostgres.follow``)."""
    with _cluster(
        "consent-pg-replica-", primary.bin, lambda server: server.follow(primary, **settings)
    ) as server:
        yield server


@contextmanager
def _cluster(prefix: str, bin: Path, make: Callable[[PrivatePostgres], None]) -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(directory=directory, port=free_port(), bin=bin)
    try:
        make(server)
        server.start()
        yield server
    finally:
        server.thaw()
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A Redis server of our own on a free port, keeping nothing on disk."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *extra: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _wait_for_port(self.port, 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def cli(self, *args: str) -> str:
        return subprocess.run(  # noqa: S603
            ["redis-cli", "-p", str(self.port), *args],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()


@contextmanager
def private_redis(*extra: str) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port())
    server.start(*extra)
    try:
        yield server
    finally:
        server.kill()
