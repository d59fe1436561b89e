"""Logs: JSON lines (or plain text at a terminal), each with the request's id, never a contact detail.

A log line can end up in a ticket, a chat or a vendor's log store; families' addresses must not. The
redaction below is the last line of defence: the service logs ids and fingerprints on purpose, and
this catches what slips through (an address inside a database error, a token in a path).
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import sys
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_REDACTIONS = (
    (re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # Phone numbers: + or 0 then 9-14 more digits, spaces allowed, not part of a longer number or time.
    (re.compile(r"(?<![\w:.+-])(?:\+|0)\d(?:[ ]?\d){8,13}(?![\w:])"), "[phone]"),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"), "[postcode]"),
    (re.compile(r"/(unsubscribe|preferences)/[^\s\"'?/]+"), r"/\1/[token]"),
)
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "_granian", "granian.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_config(fmt: str, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the service and its server (uvicorn or granian)."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    formatter: dict[str, Any] = (
        {
            "()": f"{__name__}.RedactingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if as_json
        else {
            "()": f"{__name__}.RedactingFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "filters": ["request_id"]}
    quiet = {"handlers": ["main"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}._RequestId"}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level},
        "loggers": {
            name: quiet
            for name in (
                "uvicorn",
                "uvicorn.error",
                "uvicorn.access",
                "granian",
                "_granian",
                "granian.access",
            )
        },
    }


def configure(fmt: str, level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(fmt, level))


class RequestIds:
    """Takes the caller's ``X-Request-ID`` (or makes one), echoes it, and puts it on every log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        value = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
