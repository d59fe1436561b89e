"""What ``make test`` needs from the machine beyond ``.venv``, checked before any suite starts.

Run as ``python -m tests.support.prerequisites`` (the Makefile does): it prints one line naming
everything missing, with the Debian package that provides it, and exits 1, instead of a traceback
from a fixture half-way through the run. The lookups are the ones the suites themselves make.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support import services

#: Debian's Chromium, which the browser tests drive through Playwright (tests/e2e/test_browser.py).
CHROMIUM = Path("/usr/bin/chromium")


def _redis() -> bool:
    return Path(services.REDIS_SERVER).is_file()


def _postgres() -> bool:
    try:
        services._postgres_bin()
    except RuntimeError:
        return False
    return True


#: What is looked for, who needs it, and the Debian package that provides it.
NEEDED: tuple[tuple[str, str, Callable[[], bool]], ...] = (
    ("PostgreSQL server binaries (fault tests start their own)", "postgresql", _postgres),
    ("redis-server (fault tests start their own)", "redis-server", _redis),
    (f"Chromium at {CHROMIUM} (browser tests)", "chromium", CHROMIUM.is_file),
    ("wrk (memory soak)", "wrk", lambda: shutil.which("wrk") is not None),
)


def missing() -> list[tuple[str, str]]:
    return [(what, package) for what, package, present in NEEDED if not present()]


def main() -> int:
    absent = missing()
    if not absent:
        return 0
    packages = " ".join(package for _, package in absent)
    print(
        f"make test needs what is not installed: {'; '.join(what for what, _ in absent)}"
        f" (Debian/Ubuntu: apt-get install {packages})",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
