"""openapi/openapi.json is the contract other systems are written against: it must match the app."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from consent_service.api.app import create_app
from consent_service.api.contract import BUSINESS_RULES
from consent_service.config import Settings
from tests.integration.conftest import Api

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


def _validator(schema: dict[str, Any], document: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for one of the document's schemas, its ``$ref``s resolved within the document."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


def _body(document: dict[str, Any], path: str) -> dict[str, Any]:
    content = document["paths"][path]["post"]["requestBody"]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


#: Bodies the server refuses, and the fault that makes them so: the document must refuse them too, so
#: that a client validating against it learns of the fault before it sends.
NUL = "\x00"
REFUSED = {
    "an empty address in a bulk check": ("/v1/checks/bulk", "checks", "to", [""], ["a@example.org"]),
    "a NUL in a checked address": ("/v1/checks", "checks", "to", f"jo{NUL}@example.org", "jo@example.org"),
    "a NUL in an address line": (
        "/v1/checks",
        "checks",
        "to",
        {"lines": [f"1 High Street{NUL}"], "postcode": "SW1A 1AA"},
        {"lines": ["1 High Street"], "postcode": "SW1A 1AA"},
    ),
    "a NUL in a suppression's note": ("/v1/suppressions", "staff", "note", f"asked{NUL}", "asked"),
    "a purpose with no basis": ("/v1/purposes", "admin", "bases", {}, {"email": "consent"}),
}
BASES = {
    "/v1/checks/bulk": {"purpose": "marketing", "channel": "email"},
    "/v1/checks": {"purpose": "marketing", "channel": "post"},
    "/v1/suppressions": {"to": "jo@example.org", "channel": "email", "reason": "complaint"},
    "/v1/purposes": {"code": "newsletter_schema_test", "category": "marketing", "description": "News"},
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
async def test_what_the_server_refuses_the_document_refuses(
    api: Api, case: tuple[str, str, str, Any, Any]
) -> None:
    path, scope, field, bad, good = case
    document = json.loads(SCHEMA.read_text())
    validator = _validator(_body(document, path), document)
    body = {**BASES[path], field: bad}
    assert validator.is_valid({**body, field: good}), "the document refuses the body without the fault"
    assert not validator.is_valid(body), f"the document allows {field}={bad!r}"
    response = await api.post(path, body, scope=scope)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith(field)


async def test_a_nul_in_a_query_is_refused_by_the_server_and_the_document_alike(api: Api) -> None:
    """PostgreSQL cannot store or compare a NUL and SQLite can: both backends answer the same 422."""
    document = json.loads(SCHEMA.read_text())
    parameters = document["paths"]["/v1/people"]["get"]["parameters"]
    reference = next(p["schema"] for p in parameters if p["name"] == "reference")
    validator = _validator(reference, document)
    assert validator.is_valid("case 17") and not validator.is_valid(f"case{NUL}17")
    response = await api.get("/v1/people", reference=f"case{NUL}17")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].endswith("reference")


def _texts(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        if schema.get("type") == "string":
            yield where, schema
        for key, value in schema.items():
            yield from _texts(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _texts(value, f"{where}[{index}]")


def test_every_text_a_body_takes_is_declared_free_of_nul() -> None:
    document = json.loads(SCHEMA.read_text())
    bodies = [
        name
        for name, schema in document["components"]["schemas"].items()
        if schema.get("additionalProperties") is False
    ]
    assert {"CheckIn", "BulkCheckIn", "SuppressionIn", "PostalAddress", "RegistrationIn"} <= set(bodies)
    for name in bodies:
        for where, text in _texts(document["components"]["schemas"][name], name):
            if "enum" in text or "format" in text:
                continue
            assert "pattern" in text, f"{where} does not say it refuses a NUL character"
            assert not re.search(text["pattern"], f"a{NUL}b"), f"{where} allows a NUL character"


def test_every_business_rule_is_declared_on_a_route_of_the_document() -> None:
    document = json.loads(SCHEMA.read_text())
    for path, method in BUSINESS_RULES:
        refusal = document["paths"][path][method]["responses"]["422"]["description"]
        assert BUSINESS_RULES[(path, method)] in refusal
