"""``consent-service backup ARCHIVE`` and ``restore ARCHIVE``: what a host needs to start again.

One ``tar.gz`` holds, in this order:

- ``manifest.json``: the archive's format and version, the service's version, when it was taken, where
  the database is, and each file's size and SHA-256;
- ``consent.db`` (embedded only): a consistent copy taken with SQLite's online backup API while the
  service runs. Copying the file itself is not a backup: a WAL database copied while it is written can
  be torn, and the last commits live in the ``-wal`` file beside it;
- ``secrets.json``: the fingerprint, link and encryption keys in force. The suppression list is
  stored as fingerprints under the first: a database restored without it matches nobody, silently;
  contact details and names are sealed under the last: without it they cannot be read;
- ``optout-spool.jsonl``: opt-outs taken while the database was away and not yet applied.

With PostgreSQL the database is not in the archive (``pg_dump`` or the operator's PostgreSQL backups
keep it); the secrets and the spool still are, as nothing else keeps them.

``restore`` reads the manifest and checks every file's digest before it writes anything, and will not
replace a database or spooled opt-outs unless given ``--force`` (the service stopped first). Exit
status: 0 done; 1 refused (the data dir holds data, or its keys differ); 2 the archive is unusable.

Hand-written over the standard library (``tarfile``, ``sqlite3``, ``hashlib``), which does all of it;
a backup tool would not know which files matter or what the keys mean.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sqlite3
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from consent_service import __version__
from consent_service.bootstrap import restore_spool, spool_snapshot
from consent_service.config import (
    DATABASE_FILE,
    SECRET_NAMES,
    SECRETS_FILE,
    Settings,
    embedded_url,
    keep_secrets,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "add_commands"]

FORMAT = "consent-service-backup"
#: Raised when the archive's layout changes; a restore refuses a version it does not know.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPOOL = "optout-spool.jsonl"
#: Every name an archive may hold; anything else (``../etc/passwd``) is refused, never extracted.
KNOWN = {DATABASE_FILE, SECRETS_FILE, SPOOL}


class Unusable(Exception):
    """The archive cannot be restored: no manifest, an unknown format, a file missing or altered."""


def add_commands(subparsers: Any) -> None:
    backup = subparsers.add_parser(
        "backup", help="the embedded database, the secrets and the opt-out spool in one archive"
    )
    backup.add_argument("archive", type=Path, help="the .tar.gz to write (readable by you alone)")
    backup.set_defaults(run=run_backup)
    restore = subparsers.add_parser("restore", help="put back what `backup` took, into the data dir")
    restore.add_argument("archive", type=Path)
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace the database and spool the data dir holds (stop the service first)",
    )
    restore.set_defaults(run=run_restore)


def _database_path(settings: Settings) -> Path | None:
    """The SQLite file when the service runs embedded; None with PostgreSQL."""
    if not settings.embedded:
        return None
    return Path(make_url(settings.database.url).database or "")


def _keys_in_data_dir(settings: Settings) -> bool:
    """Embedded by default, the keys live in the data dir's secrets file; else in the environment."""
    return settings.database.url == embedded_url(settings.data_dir)


def _keys(settings: Settings) -> dict[str, str]:
    in_force = (settings.fingerprint_key, settings.links.signing_key, settings.encryption_key)
    return dict(zip(SECRET_NAMES, (key.hex() for key in in_force), strict=True))


# --- backup ------------------------------------------------------------------------------------------


def run_backup(settings: Settings, args: argparse.Namespace) -> int:
    archive: Path = args.archive.resolve()
    database = _database_path(settings)
    if database is not None and not database.exists():
        print(f"consent-service: no database at {database}: nothing to back up", file=sys.stderr)
        return 2
    if not archive.parent.is_dir():
        print(
            f"consent-service: {archive.parent} is not a folder: nowhere to write the archive",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".backup-") as work:
        staged = Path(work)
        files = {SECRETS_FILE: staged / SECRETS_FILE, SPOOL: staged / SPOOL}
        _private(files[SECRETS_FILE], json.dumps(_keys(settings)).encode())
        # The spool before the database: an entry applied in between is then in both (applying it
        # again records nothing), never in neither.
        spooled = spool_snapshot(settings)
        _private(files[SPOOL], spooled)
        if database is not None:
            files[DATABASE_FILE] = staged / DATABASE_FILE
            _online_copy(database, files[DATABASE_FILE])
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "service_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "sqlite" if database is not None else "postgresql: not in this archive",
            "spooled_opt_outs": len(spooled.splitlines()),
            "files": {
                name: {"bytes": path.stat().st_size, "sha256": _digest(path)} for name, path in files.items()
            },
        }
        _write_archive(archive, manifest, files)
    waiting = manifest["spooled_opt_outs"]
    print(f"backed up to {archive} ({archive.stat().st_size} bytes): the secrets, {waiting} spooled opt-outs")
    if database is not None:
        size = manifest["files"][DATABASE_FILE]["bytes"]
        print(f"  and the database ({size} bytes, by SQLite's online backup)")
    else:
        print(
            "  NOT the database: it is PostgreSQL. Back it up with pg_dump (or pg_basebackup, or your "
            "provider's backups); this archive holds the keys that backup is useless without."
        )
    print("  The archive holds the fingerprint key: keep it as safe as the database.")
    return 0


def _online_copy(database: Path, target: Path) -> None:
    """SQLite's online backup, in one step: one read transaction, so the copy is one moment's state, and
    in WAL mode the service's writers carry on meanwhile (a stepped backup restarts on every write)."""
    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    target.chmod(0o600)


def _private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_archive(archive: Path, manifest: dict[str, Any], files: dict[str, Path]) -> None:
    """Written beside the archive and renamed over it once synced: a crash leaves no half archive."""
    partial = archive.with_name(f".{archive.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w:gz") as tar:
                body = json.dumps(manifest, indent=2).encode()
                tar.addfile(_member(MANIFEST, len(body)), io.BytesIO(body))
                for name, path in files.items():
                    with path.open("rb") as content:
                        tar.addfile(_member(name, path.stat().st_size), content)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(archive)
    finally:
        partial.unlink(missing_ok=True)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(datetime.now(UTC).timestamp())
    return info


# --- restore -----------------------------------------------------------------------------------------


def run_restore(settings: Settings, args: argparse.Namespace) -> int:
    archive: Path = args.archive
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _unpacked(archive, settings.data_dir) as (manifest, staged):
            return _restore(settings, manifest, staged, args.force)
    except Unusable as exc:
        print(f"consent-service: {archive}: {exc}; nothing was restored", file=sys.stderr)
        return 2


@contextmanager
def _unpacked(archive: Path, data_dir: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """The manifest, and the files checked against it in a staging folder in the data dir (the same
    file system, so each is renamed into place). Nothing outside that folder is touched."""
    staged = Path(tempfile.mkdtemp(dir=data_dir, prefix=".restoring-"))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                manifest = _manifest(tar)
                expected: dict[str, dict[str, Any]] = manifest["files"]
                seen = set()
                for member in iter(tar.next, None):
                    if member.name not in expected or not member.isfile() or member.name in seen:
                        raise Unusable(f"{member.name!r} is not a file the manifest lists")
                    seen.add(member.name)
                    _extract(tar, member, staged / member.name, expected[member.name])
                if missing := sorted(set(expected) - seen):
                    raise Unusable(f"the manifest lists {', '.join(missing)} but the archive lacks it")
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise Unusable(f"not a readable .tar.gz ({exc})") from exc
        yield manifest, staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise Unusable(f"no {MANIFEST} first: not an archive `consent-service backup` wrote")
    try:
        manifest = json.loads(tar.extractfile(first).read())  # type: ignore[union-attr]
    except ValueError as exc:
        raise Unusable(f"{MANIFEST} is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Unusable(f"{MANIFEST} does not name the format {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Unusable(
            f"format version {manifest.get('format_version')!r}; this version of the service restores "
            f"version {FORMAT_VERSION} only"
        )
    files = manifest.get("files")
    if (
        not isinstance(files, dict)
        or not {SECRETS_FILE, SPOOL} <= set(files) <= KNOWN
        or not all(
            isinstance(entry, dict) and isinstance(entry.get("sha256"), str) for entry in files.values()
        )
    ):
        raise Unusable(
            f"{MANIFEST} lists the files wrongly (it needs {SECRETS_FILE} and {SPOOL}, each with a sha256)"
        )
    return manifest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, expected: dict[str, Any]) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise Unusable(f"{member.name} is not a file")
    digest = hashlib.sha256()
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    if digest.hexdigest() != expected["sha256"]:
        raise Unusable(f"{member.name} does not match its digest in the manifest (altered or torn)")


def _restore(settings: Settings, manifest: dict[str, Any], staged: Path, force: bool) -> int:
    database = _database_path(settings)
    if database is not None and DATABASE_FILE not in manifest["files"]:
        raise Unusable(
            "it holds no database (it was taken beside PostgreSQL); this service runs embedded, on SQLite"
        )
    stored = json.loads((staged / SECRETS_FILE).read_text())
    if isinstance(stored, dict):
        # Taken before contact details were encrypted, an archive has no such key, and its database
        # none sealed: the key in force here seals them when the restored database is next migrated.
        stored.setdefault("CONSENT_ENCRYPTION_KEY", settings.encryption_key.hex())
    if not isinstance(stored, dict) or not all(isinstance(stored.get(name), str) for name in SECRET_NAMES):
        raise Unusable(f"{SECRETS_FILE} lacks one of {', '.join(SECRET_NAMES)}")
    keys_here = _keys_in_data_dir(settings)
    if not keys_here and (differ := _differing(settings, stored)):
        print(
            f"consent-service: the archive's {', '.join(differ)} differ from this environment's, which "
            "the service would use: restored suppressions would match nobody, and contact details would "
            "not open. Set them from the "
            f"archive's {SECRETS_FILE} (tar -xzOf ARCHIVE {SECRETS_FILE}) and restore again; "
            "nothing was restored",
            file=sys.stderr,
        )
        return 1
    held = _what_it_holds(settings, database)
    if held and not force:
        print(
            f"consent-service: {settings.data_dir} holds {' and '.join(held)}: stop the service and pass "
            "--force to replace them; nothing was restored",
            file=sys.stderr,
        )
        return 1
    if database is not None:
        for leftover in (
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ):
            # The old database's log would be replayed into the restored file: it goes first.
            leftover.unlink(missing_ok=True)
        (staged / DATABASE_FILE).replace(database)
    if keys_here:
        keep_secrets(settings.data_dir, stored)
    spooled = (staged / SPOOL).read_bytes()
    # Last: the spool's rename syncs the data dir, and with it the renames of the database and secrets.
    restore_spool(settings, spooled)
    print(f"restored {manifest['created_at']}'s backup into {settings.data_dir}:")
    where = f"in {SECRETS_FILE}" if keys_here else "the environment's, checked to be the same"
    print(f"  the secrets ({where})")
    print(f"  {len(spooled.splitlines())} spooled opt-outs (applied once the service runs with its database)")
    if database is not None:
        print(f"  the database, at {database} (serve or migrate brings its schema up to date)")
    else:
        print("  NOT the database: restore PostgreSQL from pg_dump or your PostgreSQL backups")
    return 0


def _differing(settings: Settings, stored: dict[str, str]) -> list[str]:
    """The keys the archive holds that differ from those the environment gives this service."""
    try:
        return [name for name, key in _keys(settings).items() if bytes.fromhex(stored[name]).hex() != key]
    except ValueError as exc:
        raise Unusable(f"{SECRETS_FILE} holds a key that is not hexadecimal") from exc


def _what_it_holds(settings: Settings, database: Path | None) -> list[str]:
    """What a restore would replace. A data dir holding only the secrets any first command generates
    (``Settings.from_env`` makes them before a command runs) holds nothing a record depends on."""
    held = []
    if database is not None and database.exists() and database.stat().st_size > 0:
        held.append(f"a database ({database.name})")
    if spool_snapshot(settings).strip():
        held.append("spooled opt-outs")
    return held
