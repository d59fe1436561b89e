"""Settings, read from the environment in one place (``Settings.from_env``) and passed to ``create_app``.

With no settings the service runs embedded: SQLite and generated secrets in ``CONSENT_DATA_DIR``
(default ``./var``). With a PostgreSQL URL, secrets must come from the environment.

Each setting is a field of a typed section (``settings.checks.timeout``) whose type carries its
accepted range and whose default is written beside it, once. ``VARIABLES`` says which variable fills
which field. The values are decoded once, at start, by msgspec against those types, and a bad value is
refused there with a line naming the variable, the value and what is accepted (from the same type, so
the message cannot drift from the rule): an operator learns at ``serve`` what is wrong, every bad
variable at once, rather than from a traceback or a later surprise. Nothing outside this package reads
``os.environ``.

A module by concept: ``sections.py`` (the typed sections and ``Settings``, which holds them and reads
the environment), ``environment.py`` (the table of variables, their decoding and the refusals),
``data_dir.py`` (what the data dir holds: embedded, the database and the generated secrets) and
``process.py`` (what is read from or set in the process environment besides the settings). Callers
import from the package, which names everything they use.
"""

from __future__ import annotations

from consent_service.config.data_dir import DATABASE_FILE, SECRETS_FILE, embedded_url, keep_secrets
from consent_service.config.environment import SECRET_NAMES, VARIABLES, SettingsError
from consent_service.config.process import (
    STAFF_PASSWORD,
    keep_worker_memory_compact,
    mint_links_for,
    share_metrics_between_workers,
    staff_password,
)
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
    Streams,
    Webhooks,
)

__all__ = [
    "DATABASE_FILE",
    "SECRETS_FILE",
    "SECRET_NAMES",
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
    "Streams",
    "Webhooks",
    "embedded_url",
    "keep_secrets",
    "keep_worker_memory_compact",
    "mint_links_for",
    "share_metrics_between_workers",
    "staff_password",
]
