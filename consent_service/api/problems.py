"""Every error as RFC 9457 problem details, mapped in this one place (Litestar's problem-details plugin)."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from consent_service.domain.errors import (
    Conflict,
    DomainError,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    ObjectionStands,
    StoreUnavailable,
)
from consent_service.domain.feedback import Unauthentic

log = logging.getLogger("consent_service.api")

TYPE_BASE = "https://consent-service.org/problems/"

_STATUS_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "too-many-requests",
    503: "unavailable",
}

# msgspec says where a value failed as " - at `$.choices[0].decision`", and names a missing or
# unknown field in the message itself.
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def _field_errors(extra: Any) -> list[dict[str, str]]:
    """Litestar's validation messages as ``{field, message}``, the field a dotted path into the body."""
    errors: list[dict[str, str]] = []
    for item in extra if isinstance(extra, list) else []:
        item = item if isinstance(item, dict) else {"message": str(item)}
        match = _AT.match(str(item.get("message", "invalid")))
        message = match.group("message") if match else str(item.get("message"))
        key, source = str(item.get("key") or ""), item.get("source")
        path = (match.group("path") or "").lstrip(".") if match else ""
        path = path or ("" if key in ("", "data") else key.removeprefix("data."))
        named = _NAMED.search(message)
        if named:
            path = f"{path}.{named.group('name')}".lstrip(".")
        if source in ("query", "header", "path") and key:
            path = f"{source}.{key}"
        errors.append({"field": path or "body", "message": message})
    return errors


def _validation(exc: ValidationException) -> ProblemDetailsException:
    errors = _field_errors(exc.extra)
    return ProblemDetailsException(
        status_code=422 if errors else 400,
        type_=TYPE_BASE + ("validation" if errors else "bad-request"),
        title="Invalid request" if errors else "Malformed request",
        detail="; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail),
        extra={"errors": errors} if errors else None,
    )


def _http(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    return ProblemDetailsException(
        status_code=status,
        type_=TYPE_BASE + _STATUS_TYPES.get(status, "error"),
        title=HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error",
        detail=str(exc.detail) if status < 500 else "The service could not complete the request.",
        headers=exc.headers,
    )


def _domain(exc: DomainError) -> ProblemDetailsException:
    status, kind = 400, "bad-request"
    extra: dict[str, Any] | None = None
    if isinstance(exc, InvalidInput):
        status, kind = 422, "validation"
        extra = {"errors": [{"field": e.field, "message": e.message} for e in exc.errors]}
    elif isinstance(exc, NotFound):
        status, kind = 404, "not-found"
    elif isinstance(exc, ObjectionStands):
        status, kind = 409, "objection-stands"
    elif isinstance(exc, IdempotencyConflict):
        status, kind = 409, "idempotency-conflict"
    elif isinstance(exc, Conflict):
        status, kind = 409, "conflict"
    elif isinstance(exc, Unauthentic):
        status, kind = 403, "forbidden"
    elif isinstance(exc, StoreUnavailable):
        status, kind = 503, "unavailable"
    return ProblemDetailsException(
        status_code=status, type_=TYPE_BASE + kind, title=exc.title, detail=exc.detail, extra=extra
    )


def status_of(exc: Exception) -> int:
    """The status the exception handlers answer ``exc`` with."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, DomainError):
        return _domain(exc).status_code
    return HTTP_500_INTERNAL_SERVER_ERROR


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unplanned: logged with its type only (never the request body), answered as a problem."""
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return ProblemDetailsException(
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        type_=TYPE_BASE + "internal",
        title="Internal error",
        detail="The service could not complete the request; nothing was recorded.",
    ).to_response(request)


def plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                ValidationException: _validation,
                HTTPException: _http,
                DomainError: _domain,
            },
        )
    )
