"""docs/ARCHITECTURE.md stays true as the code moves: every file and function it names exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
#: `services/checks.py: check`, `domain/ledger.py: supersedes`, `adapters/check_cache.py: AnswerCache.get`
NAMED = re.compile(r"`([a-z_/]+\.py): ([A-Za-z_][\w.]*)`")
#: a path alone, e.g. `domain/ports.py` or `db/repositories/`
PATH = re.compile(r"`([a-z_]+/[a-z_/]*(?:\.py)?)`")


def _module(path: str) -> object:
    return importlib.import_module("consent_service." + path.removesuffix(".py").replace("/", "."))


def missing_names(named: list[tuple[str, str]]) -> list[str]:
    """Each `path.py: Name` (as NAMED finds them) that does not resolve under consent_service/."""
    missing = []
    for path, dotted in named:
        found: object = _module(path)
        for part in dotted.split("."):
            found = getattr(found, part, None)
            if found is None:
                missing.append(f"{path}: {dotted}")
                break
    return missing


def test_every_function_the_architecture_names_exists() -> None:
    named = NAMED.findall(DOC.read_text())
    assert len(named) >= 25, "the document names the functions of the check and write paths"
    assert missing_names(named) == []


def test_every_file_and_folder_the_architecture_names_exists() -> None:
    paths = {p for p in PATH.findall(DOC.read_text()) if not p.startswith(("tests/", "docs/"))}
    assert paths
    assert [p for p in sorted(paths) if not (ROOT / "consent_service" / p).exists()] == []
