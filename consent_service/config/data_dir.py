"""The data dir and what lives in it: embedded, the SQLite database and the secrets made for it.

Embedded, the service needs nothing set, so the keys it signs links and makes fingerprints with are
generated on first start and kept in ``secrets.json`` beside the database, readable by the service's
user alone, and read again on every start after. With a database URL the keys must come from the
environment instead (``environment.disagreements`` refuses a start without them): every host sharing
the database must hold the same keys. Only a valid environment gets here, so a refused start writes
nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from consent_service.config.environment import SECRET_NAMES, SettingsError, hex_key

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
        values.setdefault("links", {}).setdefault("signing_key", stored["CONSENT_LINK_SIGNING_KEY"])


def _secrets_from_file(path: Path) -> dict[str, bytes]:
    """Generated once on first start, readable by the service's user alone."""
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{path} cannot be read as JSON: {exc}") from exc
        if not isinstance(stored, dict) or not all(name in stored for name in SECRET_NAMES):
            raise SettingsError(f"{path} lacks one of {', '.join(SECRET_NAMES)}")
    else:
        stored = {name: secrets.token_hex(32) for name in SECRET_NAMES}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(stored, handle)
    keys: dict[str, bytes] = {}
    for name in SECRET_NAMES:
        try:
            keys[name] = hex_key(str(stored[name]))
        except ValueError as exc:
            raise SettingsError(f"{name} in {path}: {exc}") from exc
    return keys


def keep_secrets(data_dir: Path, stored: dict[str, str]) -> None:
    """Put back the secrets a backup holds, readable by the service's user alone (``restore``).

    Written beside and renamed over the old file, so a crash leaves the old keys or the new, never a
    torn file that would stop every start.
    """
    for name in SECRET_NAMES:
        hex_key(stored[name])  # refuse a key the next start would refuse
    path = data_dir / SECRETS_FILE
    temporary = path.with_suffix(".restoring")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({name: stored[name] for name in SECRET_NAMES}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
