"""`make install` puts the Python client in with --no-deps: the dev lock must hold what it needs."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.unit.test_locks import ROOT, _pins


def test_everything_the_client_declares_is_in_the_dev_lock_at_a_version_it_accepts() -> None:
    project = tomllib.loads((ROOT / "clients" / "python" / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = _pins("dev.lock")
    for requirement in map(Requirement, declared):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} (clients/python) is not in requirements/dev.lock"
        assert requirement.specifier.contains(pins[name]), f"dev.lock pins {name}=={pins[name]}"
