"""openapi/openapi.json is the contract other systems are written against: it must match the app."""

from __future__ import annotations

import json
from pathlib import Path

from consent_service.api.app import create_app
from consent_service.config import Settings

SCHEMA = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_the_exported_schema_is_current(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)}))
    current = app.openapi_schema.to_schema()
    assert json.loads(SCHEMA.read_text()) == current, "openapi/openapi.json is stale: run `make openapi`"


def test_every_v1_route_is_in_the_schema_with_its_security() -> None:
    schema = json.loads(SCHEMA.read_text())
    paths = schema["paths"]
    for route in ("/v1/registrations", "/v1/checks", "/v1/checks/bulk", "/v1/suppressions", "/v1/people"):
        assert route in paths
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
