"""`make test` checks the machine first and names, in one line, everything it lacks."""

from __future__ import annotations

import pytest

from tests.support import prerequisites


def test_everything_missing_is_named_in_one_line_with_its_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    present = {"postgresql": True, "redis-server": True, "chromium": False, "wrk": False}
    needed = tuple((what, package, lambda p=package: present[p]) for what, package, _ in prerequisites.NEEDED)
    monkeypatch.setattr(prerequisites, "NEEDED", needed)

    assert prerequisites.main() == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert "Chromium" in err and "wrk" in err and "PostgreSQL" not in err
    assert err.rstrip().endswith("apt-get install chromium wrk)")


def test_nothing_is_said_when_nothing_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        prerequisites, "NEEDED", tuple((w, p, lambda: True) for w, p, _ in prerequisites.NEEDED)
    )
    assert prerequisites.main() == 0
    assert capsys.readouterr() == ("", "")
