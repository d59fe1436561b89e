"""The OpenAPI document made to say everything the service answers, not only its successes.

Litestar documents each route's success and a generic 400 as ``application/json``; callers (and
schemathesis, which checks every answer against the document) also need to know:

- every problem a route can answer, as ``application/problem+json`` (RFC 9457) with its field errors;
- that public routes (health, metrics, provider feedback signed by the provider) need no API key;
- that request bodies refuse fields they do not know, as the msgspec structs behind them do.

Litestar has no hook for the first two across all routes, so the generated document is amended once,
after it is built and before it is first served (``app.openapi_schema`` is cached by the app).
"""

from __future__ import annotations

from http import HTTPStatus

import msgspec
from litestar import Litestar
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
from litestar.types import Message, Scope

from consent_service.api import schemas
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

#: Answers only some routes give, beyond those every route of their kind gives.
EXTRA_PROBLEMS = {
    ("/v1/webhooks/dead-letters/{letter_id}/replay", "post"): [502],
    # Public, yet refused when the provider's signature (Notify: its bearer token) is not good.
    **{(f"/v1/feedback/{provider}", "post"): [403] for provider in ("ses", "sendgrid", "mailgun", "notify")},
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


def _strict_bodies(openapi: OpenAPI) -> None:
    components = openapi.components.schemas or {}
    for name, value in vars(schemas).items():
        if (
            isinstance(value, type)
            and issubclass(value, msgspec.Struct)
            and value.__struct_config__.forbid_unknown_fields
            and isinstance(components.get(name), Schema)
        ):
            components[name].additional_properties = False


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
                        description=WHY.get(status, HTTPStatus(status).phrase), content=problem
                    )
            operation.responses = responses
    _strict_bodies(openapi)
    return openapi


class AllowHeader:
    """Puts every method of a path in the ``Allow`` of an ``OPTIONS`` answer.

    Litestar makes the ``OPTIONS`` handler of a path when the path's first handlers are registered,
    and keeps it when more handlers join the path later, so its ``Allow`` lists only the first ones
    (``POST`` for ``/v1/notices``, which also answers ``GET``): litestar-org/litestar#4169, fixed
    only in Litestar 3. This hook answers from the finished routes instead; drop it on Litestar 3.
    """

    def __init__(self) -> None:
        self.allowed: dict[str, bytes] = {}

    def learn(self, app: Litestar) -> None:
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                self.allowed[route.path_format] = ", ".join(sorted(route.methods)).encode()

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        allowed = self.allowed.get(str(scope.get("path_template", "")))
        if allowed is not None:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
            message["headers"] = [*headers, (b"allow", allowed)]
