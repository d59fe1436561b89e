"""The data dir and what lives in it: embedded, the SQLite database and the secrets made for it.

Embedded, the service needs nothing set, so the keys it signs links, makes fingerprints and encrypts
contact details with are generated on first start and kept in ``secrets.json`` beside the database,
readable by the service's user alone, and read again on every start after. With a database URL the
keys must come from the environment instead (``environment.disagreements`` refuses a start without
them): every host sharing the database must hold the same keys. Only a valid environment gets here,
so a refused start writes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import Any

from consent_service.config.environment import SECRET_NAMES, VARIABLES, SettingsError

#: Added to a secrets file written before it existed: nothing was encrypted then, so nothing is lost by
#: making it now. The other keys are never remade: a new fingerprint key would match no suppression.
ADDED_LATER = ("CONSENT_ENCRYPTION_KEY",)

#: Embedded, the SQLite database and the generated secrets, in the data dir.
DATABASE_FILE = "consent.db"
SECRETS_FILE = "secrets.json"


def embedded_url(data_dir: Path) -> str:
    """The database URL when none is set: the data dir's own SQLite file, whose keys are its secrets file."""
    return f"sqlite+aiosqlite:///{data_dir / DATABASE_FILE}"


def place(values: dict[str, dict[str, Any]], default_data_dir: Path) -> None:
    """The data dir, made when something lives there; embedded, the database and secrets in it."""
    top = values.setdefault("", {})
    database = values.setdefault("database", {})
    data_dir = top["data_dir"] = Path(top.get("data_dir", default_data_dir)).resolve()
    # Embedded, the database and secrets live there; the host cache's change signal is a file there too,
    # shared by this host's workers.
    if "url" not in database or values.get("checks", {}).get("cache") == "host":
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"CONSENT_DATA_DIR={data_dir}: cannot make it: {exc.strerror}") from exc
    if "url" not in database:
        database["url"] = embedded_url(data_dir)
        stored = _secrets_from_file(data_dir / SECRETS_FILE)
        # A key given in the environment wins over the generated one.
        top.setdefault("fingerprint_key", stored["CONSENT_FINGERPRINT_KEY"])
        top.setdefault("encryption_key", stored["CONSENT_ENCRYPTION_KEY"])
        values.setdefault("links", {}).setdefault("signing_key", stored["CONSENT_LINK_SIGNING_KEY"])


def _secrets_from_file(path: Path) -> dict[str, bytes]:
    """Generated once on first start, readable by the service's user alone."""
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{path} cannot be read as JSON: {exc}") from exc
        if not isinstance(stored, dict) or not all(
            name in stored for name in SECRET_NAMES if name not in ADDED_LATER
        ):
            raise SettingsError(f"{path} lacks one of {', '.join(SECRET_NAMES)}")
        if any(name not in stored for name in ADDED_LATER):
            stored = _add_later_keys(path)
    else:
        stored = {name: secrets.token_hex(32) for name in SECRET_NAMES}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(stored, handle)
    keys: dict[str, bytes] = {}
    for name in SECRET_NAMES:
        try:
            keys[name] = VARIABLES[name].read(str(stored[name]))
        except ValueError as exc:
            raise SettingsError(f"{name} in {path}: {exc}") from exc
    return keys


def _add_later_keys(path: Path) -> dict[str, Any]:
    """Under a lock, read again: two workers starting at once must not each make a different key."""
    with path.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored: dict[str, Any] = json.loads(path.read_text())
        if missing := [name for name in ADDED_LATER if name not in stored]:
            stored |= {name: secrets.token_hex(32) for name in missing}
            _write_private(path, stored)
        return stored


def keep_secrets(data_dir: Path, stored: dict[str, str]) -> None:
    """Put back the secrets a backup holds, readable by the service's user alone (``restore``)."""
    for name in SECRET_NAMES:
        VARIABLES[name].read(stored[name])  # refuse a key the next start would refuse
    _write_private(data_dir / SECRETS_FILE, {name: stored[name] for name in SECRET_NAMES})


def _write_private(path: Path, stored: dict[str, str]) -> None:
    """Beside and renamed over the old file, so a crash leaves the old keys or the new, never a torn
    file that would stop every start."""
    temporary = path.with_suffix(".restoring")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(stored, handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
