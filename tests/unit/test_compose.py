"""compose.yaml, the production-like way to run the service on one host, sets only real settings, to
values the service accepts: a misspelt variable would otherwise be ignored without a word."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from consent_service.config import STAFF_PASSWORD, VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "ab" * 32
#: Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}.
REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<rest>[^}]*))?\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def _interpolate(value: str, given: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, rest = match["name"], match["op"] or "", match["rest"] or ""
        value = given.get(name)
        if op.endswith("-") and (value is None or (op == ":-" and value == "")):
            return rest
        assert value is not None and (value or op != ":?"), f"${{{name}}} is required: {rest}"
        return value

    return REFERENCE.sub(one, value)


def test_every_consent_variable_it_sets_is_a_setting() -> None:
    known = {*VARIABLES, STAFF_PASSWORD}
    services = _compose()["services"]
    set_here = {name for service in services.values() for name in _environment(service)}
    consent_names = {name for name in set_here if name.startswith("CONSENT_")}
    assert consent_names, "compose.yaml sets no CONSENT_* variable"
    assert consent_names <= known, f"not settings: {sorted(consent_names - known)}"


def test_the_env_example_names_every_variable_it_needs_and_its_values_are_accepted() -> None:
    text = (ROOT / "compose.yaml").read_text()
    referenced = {match["name"] for match in REFERENCE.finditer(text)}
    example = _env_example()
    assert referenced <= set(example), f"missing from .env.example: {sorted(referenced - set(example))}"

    # The secrets left blank in the example, filled in as the example says; the rest as given.
    given = {name: value or KEY for name, value in example.items()}
    services = _compose()["services"]
    for name in ("migrate", "consent"):
        environment = {key: _interpolate(value, given) for key, value in _environment(services[name]).items()}
        settings = Settings.from_env(environment)  # refuses, naming the variable, any value it would not take
        assert settings.database.url.startswith("postgresql+asyncpg://consent:")
        assert settings.redis_url == "redis://redis:6379/0"


def test_the_service_runs_two_workers_after_the_migration_completes() -> None:
    compose = _compose()
    consent = compose["services"]["consent"]
    command = consent["command"]
    assert command[command.index("--workers") + 1] == "2"
    assert consent["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["command"][-1] == "migrate"
    for name in ("postgres", "redis", "consent"):
        service = compose["services"][name]
        assert "healthcheck" in service, f"{name} has no health check"
        named = {volume.split(":", 1)[0] for volume in service.get("volumes", [])}
        assert named and named <= set(compose["volumes"]), f"{name}: {named} are not named volumes"
