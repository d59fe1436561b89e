"""The security suite runs against the integration fixtures: the real app in-process, once on SQLite
and once on PostgreSQL with Redis, with one API key per scope (``tests/integration/conftest.py``).

Each test may report a figure (how many routes, keys, log lines it went through), so that a run shows
the suite looked at something; they are printed once, at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.conftest import *  # noqa: F403

_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report one figure for the end of the run, named after the test that found it."""
    figures = request.config.stash.setdefault(_FIGURES, [])

    def report(text: str) -> None:
        figures.append(f"{request.node.name}: {text}")

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = terminalreporter.config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("security figures")
        for line in figures:
            terminalreporter.write_line(line)
