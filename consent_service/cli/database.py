"""``consent-service migrate``, and the migration every command that writes runs first."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alembic.config import Config as AlembicConfig

from alembic import command
from consent_service.config import Settings

#: At the top of the checkout, outside the package: why the Dockerfile installs the project editable.
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def migrate(settings: Settings) -> None:
    config = AlembicConfig(str(ALEMBIC_INI))
    config.attributes["database_url"] = settings.database.url
    command.upgrade(config, "head")


def add_commands(subparsers: Any) -> None:
    subparsers.add_parser("migrate", help="bring the database schema up to date").set_defaults(run=run)


def run(settings: Settings, _: argparse.Namespace) -> int:
    migrate(settings)
    print("database is up to date")
    return 0
