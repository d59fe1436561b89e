"""The opt-out spool as a file in the data directory, shared by every worker on this host.

Hand-written because it is a handful of system calls and no library we carry does it: a second
database would have to be kept durable at the one moment the first is away. The file holds one JSON
line per opt-out. Each append is made under an exclusive ``flock`` and synced before it returns, so a
family is told "done" only once their opt-out would survive a crash. Removing applied entries writes
the survivors to a new file, syncs it and renames it over the old one, so a crash at any moment
leaves the old list or the new one, never half of either. The lock is taken on a separate file that
is never replaced, so an append can never land in a file that a removal has just unlinked.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from consent_service.domain.errors import StoreUnavailable
from consent_service.domain.spool import SpooledOptOut, UnreadableLine

log = logging.getLogger("consent_service.spool")

NAME = "optout-spool.jsonl"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_directory(directory: Path) -> None:
    """A created or renamed file survives a crash only once its directory entry is synced too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileSpool:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / NAME
        self._lock_path = directory / "optout-spool.lock"
        self._seen: tuple[int, int, int] | None = None
        self._entries: frozenset[SpooledOptOut] = frozenset()
        with self._locked():
            if not self.path.exists():
                self._replace(b"")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def append(self, entry: SpooledOptOut) -> None:
        data = entry.to_line()
        with self._locked():
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # A line torn by a crash mid-append: start afresh so this one is not glued to it.
                    data = b"\n" + data
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if size == 0:
                _sync_directory(self.directory)

    def pending(self) -> frozenset[SpooledOptOut]:
        try:
            st = self.path.stat()
            if (st.st_ino, st.st_size, st.st_mtime_ns) != self._seen:
                with self._locked():
                    st = self.path.stat()
                    self._entries = frozenset(self._read())
                    self._seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return frozenset()
        except OSError as exc:
            # An opt-out we cannot see may be waiting: answer as if the database were away (no allow).
            raise StoreUnavailable(f"the opt-out spool cannot be read ({exc.strerror})") from exc
        return self._entries

    def stand_in(self, away: StoreUnavailable) -> None:
        """Always: should the disk then refuse an entry too, ``append`` says so with its own reason."""

    def remove(self, ids: Collection[str]) -> None:
        gone = set(ids)
        with self._locked():
            kept = [entry for entry in self._read() if entry.id not in gone]
            self._replace(b"".join(entry.to_line() for entry in kept))

    def snapshot(self) -> bytes:
        """The file as it stands between appends, for a backup: never half of a line being written."""
        with self._locked():
            try:
                return self.path.read_bytes()
            except FileNotFoundError:
                return b""

    def overwrite(self, data: bytes) -> None:
        """The file replaced whole (a restore), synced, under the lock appends take."""
        with self._locked():
            self._replace(data)

    def _read(self) -> list[SpooledOptOut]:
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            if not line.strip():
                continue
            try:
                entries.append(SpooledOptOut.from_line(line))
            except UnreadableLine:
                log.warning("skipping a torn line in the opt-out spool (it was never confirmed)")
        return entries

    def _replace(self, data: bytes) -> None:
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(self.path)
        _sync_directory(self.directory)
