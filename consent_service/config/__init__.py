"""Settings, read from the environment in one place (``Settings.from_env``) and passed to ``create_app``.

With no settings the service runs embedded: SQLite and generated secrets in ``CONSENT_DATA_DIR``
(default ``./var``). With a PostgreSQL URL, secrets must come from the environment.

Each setting is a field of a typed section (``settings.checks.timeout``) whose type carries its
accepted range and whose default is written beside it, once. ``VARIABLES`` says which variable fills
which field. The values are decoded once, at start, by msgspec against those types, and a bad value is
refused there with a line naming the variable, the value and what is accepted (from the same type, so
the message cannot drift from the rule): an operator learns at ``serve`` what is wrong, every bad
variable at once, rather than from a traceback or a later surprise. Nothing else in the service reads
``os.environ``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, MutableMapping

from consent_service.config.environment import VARIABLES, SettingsError
from consent_service.config.sections import (
    Changes,
    Checks,
    Database,
    Feedback,
    Limits,
    Links,
    Logs,
    Organisation,
    Retention,
    Settings,
    Webhooks,
)

__all__ = [
    "STAFF_PASSWORD",
    "VARIABLES",
    "Changes",
    "Checks",
    "Database",
    "Feedback",
    "Limits",
    "Links",
    "Logs",
    "Organisation",
    "Retention",
    "Settings",
    "SettingsError",
    "Webhooks",
    "share_metrics_between_workers",
    "staff_password",
]

#: A new staff account's password, for scripts and tests. Not a setting: the service never needs it, so
#: it is read only by ``consent-service staff create`` and never held for the life of a server.
STAFF_PASSWORD = "CONSENT_STAFF_PASSWORD"  # noqa: S105 (the variable's name, not a password)
#: Where prometheus_client keeps each worker's figures; it reads the variable itself, in each worker.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def staff_password(environ: Mapping[str, str] | None = None) -> str | None:
    """``CONSENT_STAFF_PASSWORD`` if set: the password ``staff create`` gives the new account."""
    return (os.environ if environ is None else environ).get(STAFF_PASSWORD) or None


def share_metrics_between_workers(
    settings: Settings, environ: MutableMapping[str, str] | None = None
) -> None:
    """With several workers, each keeps its metrics in files that ``/metrics`` adds up.

    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept; else ``<data dir>/metrics``, emptied of a
    previous run's figures, is named in this process's environment for the workers it starts to inherit.
    """
    env = os.environ if environ is None else environ
    if METRICS_DIR in env:
        return
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    env[METRICS_DIR] = str(directory)


def keep_worker_memory_compact(environ: MutableMapping[str, str] | None = None) -> None:
    """Two glibc memory arenas per worker, unless the operator chose a number.

    glibc gives each thread that allocates an arena of its own (up to eight per core) and rarely hands
    one back; with the SQLite driver's threads a worker's resident memory crept up under load. Two
    arenas kept it flat in the soak (docs/RELIABILITY.md). glibc reads this when a process starts, so
    it is set here, in the serving process, for the workers it starts to inherit.
    """
    env = os.environ if environ is None else environ
    env.setdefault("MALLOC_ARENA_MAX", "2")
