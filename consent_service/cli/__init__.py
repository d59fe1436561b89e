"""The ``consent-service`` command: serve, migrate, back up, make API keys, export the schema."""

# The docstring above is the command's --help description, word for word. One module per command
# group; each adds its parsers and names the function that runs it (``run``), so this module only
# reads the settings and hands over. None of them imports the web package: they build what they
# need through consent_service.bootstrap, and ``serve`` and ``openapi`` name the app by its path.

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from consent_service import __version__
from consent_service.cli import audit, backup, database, keys, openapi, retention, serve, staff, transfer
from consent_service.cli.database import ALEMBIC_INI, migrate
from consent_service.config import Settings, SettingsError

__all__ = ["ALEMBIC_INI", "main", "migrate"]

#: In the order ``--help`` lists them.
COMMAND_GROUPS = (serve, database, backup, keys, staff, openapi, audit, retention, transfer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="consent-service", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
        run: Callable[[Settings, argparse.Namespace], int] = args.run
        # A command may find the settings wrong only once it reads the database (``migrate``: a key
        # that does not open what it holds), and is refused the same way.
        return run(settings, args)
    except SettingsError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
