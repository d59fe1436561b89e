"""``consent-service openapi``: the OpenAPI document the web app serves, printed as JSON.

Only this command needs the web package, so it looks the document's maker up by its path when it
runs, as ``serve`` hands its server the app factory by path: the command line imports nothing from
``consent_service.api`` (an import-linter contract) and its other commands never load it.
"""

from __future__ import annotations

import argparse
import json
import pkgutil
from collections.abc import Callable
from typing import Any

from consent_service.config import Settings

DOCUMENT = "consent_service.api.app:openapi_document"


def add_commands(subparsers: Any) -> None:
    subparsers.add_parser("openapi", help="print the OpenAPI schema as JSON").set_defaults(run=run)


def run(settings: Settings, _: argparse.Namespace) -> int:
    document: Callable[[Settings], dict[str, Any]] = pkgutil.resolve_name(DOCUMENT)
    print(json.dumps(document(settings), indent=2, sort_keys=True))
    return 0
