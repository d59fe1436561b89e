"""``consent-service migrate``, and the migration every command that writes runs first."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig

from alembic import command
from consent_service.bootstrap import encryption_key_opens_the_record
from consent_service.config import Settings, SettingsError

_PACKAGE = Path(__file__).resolve().parents[1]
#: The checkout's Alembic configuration, for the ``alembic`` command and the migration tests.
ALEMBIC_INI = _PACKAGE.parent / "alembic.ini"


def migrations() -> Path:
    """Where the migration scripts are: inside an installed wheel (setup.py maps the top-level
    ``alembic/`` to ``consent_service/_migrations``), else in the checkout beside the package."""
    shipped = _PACKAGE / "_migrations"
    return shipped if (shipped / "env.py").is_file() else _PACKAGE.parent / "alembic"


def migrate(settings: Settings) -> None:
    # Built here rather than read from alembic.ini, which a wheel does not carry: env.py configures
    # no logging from it, and its file template only matters for writing new revisions.
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations()))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = settings.database.url
    # Migration 0017 seals the contact details already held under the key this service runs with.
    config.attributes["encryption_key"] = settings.encryption_key
    command.upgrade(config, "head")
    if not asyncio.run(encryption_key_opens_the_record(settings)):
        raise SettingsError(
            "CONSENT_ENCRYPTION_KEY does not open the contact details the database holds: it is not the "
            "key they were encrypted with. Set the key in force when they were written (a backup's "
            "secrets.json holds it)"
        )


def add_commands(subparsers: Any) -> None:
    subparsers.add_parser("migrate", help="bring the database schema up to date").set_defaults(run=run)


def run(settings: Settings, _: argparse.Namespace) -> int:
    migrate(settings)
    print("database is up to date")
    return 0
