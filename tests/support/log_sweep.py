"""Promise 6 over the whole suite: every address and mobile number a test makes up is a canary, and
no log line the service writes during the run may carry one.

``fresh_email()`` and ``fresh_mobile()`` (``tests/integration/conftest.py``) register each value they
make. For the whole session the root logger is at DEBUG with the service's own formatters (JSON and
text, ``consent_service.logs``) writing to memory, the statement loggers held at WARNING as
``log_config`` holds them; a fixture that installs a logging configuration of its own has the sweep's
handler put back before the next test. At the end every line is searched for every canary, as written
and in the forms normalisation gives it; a find fails the run (exit status 1) and the summary names it.

The test client's own loggers (``httpx``) are left out. Servers run as processes (``tests/e2e``,
``tests/prove``) log to their own stderr and are not swept here.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest

from consent_service import logs

#: Every value the tests made up to stand for a family's contact detail, as a form would send it.
CANARIES: set[str] = set()

#: The test's own HTTP client logs every request it makes, URL and all: the caller's log, not the
#: service's (the app under test sends HTTP only to webhooks, and no test sweeps those).
TEST_CLIENT_LOGGERS = ("httpx", "httpcore")


class NotTheTestClient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(TEST_CLIENT_LOGGERS)


def _handler(config: dict[str, Any], stream: io.StringIO) -> logging.Handler:
    """A handler writing as the service's configuration would, built from that configuration."""
    spec = dict(config["formatters"]["main"])
    factory = spec.pop("()")
    module, _, name = factory.rpartition(".")
    assert module == logs.__name__
    handler = logging.StreamHandler(stream)
    handler.setFormatter(getattr(logs, name)(**spec))
    handler.addFilter(logs._RequestId())
    handler.addFilter(NotTheTestClient())
    handler.setLevel(logging.DEBUG)
    return handler


class Sweep:
    def __init__(self) -> None:
        self.json = io.StringIO()
        self.text = io.StringIO()
        self.handlers = [
            _handler(logs.log_config("json", "DEBUG"), self.json),
            _handler(logs.log_config("text", "DEBUG"), self.text),
        ]
        self.finds: list[str] = []
        self.searched = 0

    def attach(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        for name in logs.STATEMENT_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)

    def detach(self) -> None:
        for handler in self.handlers:
            logging.getLogger().removeHandler(handler)

    def lines(self) -> list[str]:
        return self.json.getvalue().splitlines() + self.text.getvalue().splitlines()

    def search(self, canaries: set[str]) -> None:
        lines = self.lines()
        text = "\n".join(lines).lower()
        # Digits alone, so that "07912 123456", "+44 (0)7912 123456" and "7912-123456" all match.
        digits = re.sub(r"[ +()-]", "", text)
        for canary in sorted(canaries):
            if "@" in canary:
                form, haystack = canary.split("@")[0].lower(), text
            else:
                form, haystack = re.sub(r"\D", "", canary)[1:], digits
            if form in haystack:
                self.finds.append(canary)
        self.searched = len(canaries)


_SWEEP = pytest.StashKey[Sweep]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SWEEP] = Sweep()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_SWEEP].attach()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    item.config.stash[_SWEEP].attach()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    sweep = session.config.stash[_SWEEP]
    sweep.detach()
    sweep.search(CANARIES)
    if sweep.finds and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    sweep = terminalreporter.config.stash[_SWEEP]
    terminalreporter.section("log sweep")
    terminalreporter.write_line(
        f"{sweep.searched} made-up addresses and mobiles searched for in {len(sweep.lines())} log lines "
        f"(JSON and text) from the whole run: {len(sweep.finds)} found"
    )
    if sweep.finds:
        terminalreporter.write_line("the run fails: these made-up details reached a log line", red=True)
    for canary in sweep.finds[:20]:
        terminalreporter.write_line(f"FOUND {canary}", red=True)
