"""The OpenAPI document made to say everything the service answers, not only its successes.

Litestar documents each route's success and a generic 400 as ``application/json``; callers (and
schemathesis, which checks every answer against the document) also need to know:

- every problem a route can answer, as ``application/problem+json`` (RFC 9457) with its field errors;
- that public routes (health, metrics, provider feedback signed by the provider) need no API key;
- every rule a request body must keep, stated by msgspec from the structs that check it: Litestar's
  generator drops the constraints of a union's arm (a contact's text, a bulk ``to`` item), of a
  list's items and of a map's size, so the input bodies are described by ``msgspec.json.schema``
  instead, and every free text in them is declared free of NUL characters, which ``strict_inputs``
  refuses in any body.

Litestar has no hook for the first two across all routes, so the generated document is amended once,
after it is built and before it is first served (``app.openapi_schema`` is cached by the app).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.api import schemas
from consent_service.api.inputs import NUL_FREE
from consent_service.api.security import PUBLIC_OPT

PROBLEM_JSON = "application/problem+json"

PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    description="A problem (RFC 9457); a refused input names each field that was wrong",
    required=["type", "title", "status"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)

WHY = {
    400: "The request could not be read (malformed JSON, a body that is not an object)",
    401: "No API key, or one the service does not recognise",
    403: "The key lacks the scope this route needs, or a provider's signature (or token) is refused",
    404: "Nothing by that id, or a feature not configured on this service",
    409: "A conflicting record exists, the Idempotency-Key was used with another body, or an objection"
    " cannot be lifted",
    413: "The body is larger than the service takes",
    415: "The body is not in a media type this route takes",
    422: "A field is missing or invalid; each is named in errors",
    502: "The webhook refused the delivery again; the dead letter stays as it was",
    503: "The database did not answer in time; nothing was recorded",
}

#: What is refused although the schema allows it: a rule no schema can state (what the catalogue
#: holds, whether a phone number exists, the destinations this deployment allows), described in the
#: route's 422 so that such a refusal is part of the contract (tests/contract allows 422 exactly here).
_PURPOSE = "a purpose the catalogue does not have, or a channel that purpose is not used on"
_CONTACT = (
    "an address that is not one of its channel's kind (an email address, a phone number that exists, "
    "a UK postcode with an address line)"
)
#: Only a grant is refused for its paperwork; an opt-out is recorded with the gaps named (DESIGN §4.1).
_CHOICES = (
    f"a grant naming {_PURPOSE}, no notice version the person was shown or a notice of another "
    "purpose, no affirmative_action, a pre_ticked that is not false, or a collection context when it is "
    "not a soft opt-in or no opt-out was offered; a grant "
    "taking effect in the future, taken by phone, letter, email or in person without the staff member "
    "who took it, or back-dated by more than a day without a note; a grant and a withdrawal of the "
    "same purpose and channel"
)
BUSINESS_RULES = {
    ("/v1/checks", "post"): f"{_PURPOSE}; neither to nor person_id; to without its channel; {_CONTACT}",
    ("/v1/checks/bulk", "post"): _PURPOSE,
    ("/v1/notices", "post"): "a purpose the catalogue does not have",
    ("/v1/people/{person_id}/access-requests", "post"): "a request received in the future",
    ("/v1/purposes", "post"): "the public_task category when CONSENT_ORG_TYPE is not public_authority",
    ("/v1/keys", "post"): "a scope the calling key does not hold; an expiry that is not in the future",
    ("/v1/people", "get"): f"not exactly one of email, phone or reference; {_CONTACT}",
    ("/v1/people", "post"): f"a contact whose value is not of its kind; {_CONTACT}",
    ("/v1/registrations", "post"): f"{_CHOICES}; a contact whose value is not of its kind; {_CONTACT}",
    ("/v1/people/{person_id}/consents", "post"): _CHOICES,
    ("/v1/people/{person_id}/restrictions", "post"): f"{_CONTACT}; an address that is not the person's",
    ("/v1/suppressions", "get"): "a cursor this service did not give out",
    ("/v1/suppressions", "post"): f"a purpose the catalogue does not have; {_CONTACT}",
    ("/v1/suppressions/lookup", "get"): _CONTACT,
    ("/v1/unsubscribe-links", "post"): f"a purpose other than marketing; {_PURPOSE}; {_CONTACT}",
    ("/v1/webhooks", "post"): "an address with no host, or one CONSENT_WEBHOOK_DESTINATIONS does not allow",
}


def _why(status: int, path: str, method: str) -> str:
    rule = BUSINESS_RULES.get((path, method)) if status == 422 else None
    why = WHY.get(status, HTTPStatus(status).phrase)
    return f"{why}; or a rule the schema cannot state: {rule}" if rule else why


#: Answers only some routes give, beyond those every route of their kind gives.
EXTRA_PROBLEMS = {
    ("/v1/webhooks/dead-letters/{letter_id}/replay", "post"): [502],
    # Public, yet refused when the provider's signature (Notify: its bearer token) is not good.
    **{
        (f"/v1/feedback/{provider}", "post"): [403]
        for provider in ("ses", "sendgrid", "mailgun", "notify", "notify/received-text")
    },
    # Kantara v1.1 has no withdrawn state: a withdrawal's receipt is refused (domain/receipts.py).
    ("/v1/people/{person_id}/receipts/{event_id}", "get"): [409],
}


#: Routes that can also answer in plain text (``?format=text``), for a person to read.
PLAIN_TEXT = {"/v1/people/{person_id}/export"}


def _problems(path: str, method: str, public: bool) -> list[int]:
    statuses = [400, 422, *EXTRA_PROBLEMS.get((path, method), [])]
    if not public:
        statuses += [401, 403]
    # An id in the path or the body that names nothing; a provider's feedback route not configured.
    statuses.append(404)
    if method != "get":
        statuses += [409, 413, 415]
    statuses.append(503)
    return statuses


def _handlers(app: Litestar) -> dict[tuple[str, str], bool]:
    """Whether each (path, method) is public, as the routes declare it in their ``opt``."""
    public: dict[tuple[str, str], bool] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                public[(route.path_format, method.lower())] = bool(handler.opt.get(PUBLIC_OPT))
    return public


#: Where msgspec's schema of an input body points for the bodies and enums it uses.
REF = "#/components/schemas/{name}"

#: Keywords whose value is one schema, or a list of schemas, or a map of names to schemas.
_ONE = {"items", "additionalProperties", "propertyNames", "not"}
_MANY = {"anyOf", "oneOf", "allOf", "prefixItems"}
_NAMED = {"properties", "$defs", "patternProperties"}
#: A string already held to one of these cannot carry a NUL character anyway.
_SHAPED = {"pattern", "enum", "const", "format"}


def _snake(key: str) -> str:
    return re.sub(r"[A-Z]", lambda upper: "_" + upper[0].lower(), key)


def _schema(value: dict[str, Any]) -> Schema | Reference:
    """Litestar's spec object for one of msgspec's JSON schemas, each free text declared NUL-free."""
    if "$ref" in value:
        return Reference(ref=value["$ref"])
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if key in _ONE and isinstance(item, dict):
            item = _schema(item)
        elif key in _MANY:
            item = [_schema(each) for each in item]
        elif key in _NAMED:
            item = {name: _schema(each) for name, each in item.items()}
        elif key == "type":
            item = OpenAPIType(item)
        fields[_snake(key)] = item
    if value.get("type") == "string" and not _SHAPED & value.keys():
        fields["pattern"] = NUL_FREE
    free_keys = value.get("additionalProperties", True) is not False and "propertyNames" not in value
    if value.get("type") == "object" and free_keys:
        fields["property_names"] = Schema(pattern=NUL_FREE)
    return Schema(**fields)


def _input_bodies(openapi: OpenAPI) -> None:
    """Each input body described by msgspec, which validates it, replacing Litestar's description."""
    components = openapi.components.schemas or {}
    bodies = [
        value
        for name, value in vars(schemas).items()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__struct_config__.forbid_unknown_fields
        and name in components
    ]
    names = {body.__name__ for body in bodies}
    _, described = msgspec.json.schema_components(bodies, ref_template=REF)
    for name, schema in described.items():
        spec = _schema(schema)
        # The enums the bodies name are Litestar's already, under the same names; kept as they are.
        if isinstance(spec, Schema) and (name in names or name not in components):
            components[name] = spec


def _nul_free_query(operation: Operation) -> None:
    """Each free text a query takes declared NUL-free, as ``strict_inputs`` refuses it."""
    for parameter in operation.parameters or []:
        schema = getattr(parameter, "schema", None)
        if getattr(parameter, "param_in", None) != "query" or not isinstance(schema, Schema):
            continue
        arms = [schema, *(arm for arm in schema.one_of or [] if isinstance(arm, Schema))]
        texts = [arm for arm in arms if arm.type == OpenAPIType.STRING and not (arm.format or arm.enum)]
        if texts and not (schema.pattern or schema.enum or schema.format or schema.const):
            schema.pattern = NUL_FREE


#: How a field's description begins when the field is kept only for old callers.
DEPRECATED = "Deprecated:"


def _deprecated_fields(openapi: OpenAPI) -> None:
    """Each field described as deprecated is marked so; Litestar's generator keeps only the words
    (the input bodies, described by msgspec, carry the mark already)."""
    for schema in (openapi.components.schemas or {}).values():
        for field in (schema.properties or {}).values() if isinstance(schema, Schema) else ():
            if isinstance(field, Schema) and (field.description or "").startswith(DEPRECATED):
                field.deprecated = True


def conform(app: Litestar) -> OpenAPI:
    """Amend the app's cached OpenAPI document in place; returns it."""
    openapi = app.openapi_schema
    if openapi.components.schemas is None:
        openapi.components.schemas = {}
    if "Problem" in openapi.components.schemas:
        return openapi  # amended already
    openapi.components.schemas["Problem"] = PROBLEM
    problem = {PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))}
    public = _handlers(app)
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            is_public = public.get((path, method), False)
            _nul_free_query(operation)
            if is_public:
                operation.security = []
            responses = operation.responses if operation.responses is not None else {}
            success = responses.get("200")
            if path in PLAIN_TEXT and isinstance(success, OpenAPIResponse) and success.content:
                success.content["text/plain"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
            for status in _problems(path, method, is_public):
                existing = responses.get(str(status))
                if existing is None or (status == 400 and isinstance(existing, OpenAPIResponse)):
                    # Litestar's own 400 is described as plain JSON; the service answers a problem.
                    responses[str(status)] = OpenAPIResponse(
                        description=_why(status, path, method), content=problem
                    )
            operation.responses = responses
    _input_bodies(openapi)
    _deprecated_fields(openapi)
    return openapi


class AllowHeader:
    """Puts every method of a path in the ``Allow`` of an ``OPTIONS`` answer.

    Litestar makes the ``OPTIONS`` handler of a path when the path's first handlers are registered,
    and keeps it when more handlers join the path later, so its ``Allow`` lists only the first ones
    (``POST`` for ``/v1/notices``, which also answers ``GET``): litestar-org/litestar#4169, fixed
    only in Litestar 3. This wrapper of the app's handler answers from the finished routes instead;
    drop it on Litestar 3. It wraps the handler rather than being a before-send hook, which Litestar
    would call for every message of every answer: a twentieth of a liveness answer's time, for a
    method that is seldom asked.
    """

    def __init__(self, app: Litestar) -> None:
        self.inner: ASGIApp = app.asgi_handler
        self.allowed: dict[str, bytes] = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                self.allowed[route.path_format] = ", ".join(sorted(route.methods)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await self.inner(scope, receive, send)
            return

        async def send_allowed(message: Message) -> None:
            # The router has named the route in this same scope by the time the answer starts.
            allowed = self.allowed.get(str(scope.get("path_template", "")))
            if message["type"] == "http.response.start" and allowed is not None:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message["headers"] = [*headers, (b"allow", allowed)]
            await send(message)

        await self.inner(scope, receive, send_allowed)
