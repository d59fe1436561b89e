"""Logs: JSON lines (or plain text at a terminal), each with the request's id, never a contact detail.

A log line can end up in a ticket, a chat or a vendor's log store; families' addresses must not. The
redaction below is the last line of defence: the service logs ids and fingerprints on purpose, and
this catches what slips through (an address inside a database error, a token in a path).

Outside the web package because the command line configures the server's logging before any app
exists; the middleware that sets each request's id (``api.logs.RequestIds``) is the web's part.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

#: In this order: a token first, whole, before its characters can be taken for anything else; a phone
#: number before an address, whose local part may take in digits and ``=`` (``=07700 900123=a@b.org``
#: would otherwise lose its last digits into ``[email]`` and leave the rest of the number behind).
_REDACTIONS = (
    (re.compile(r"/(unsubscribe|preferences)/[^\s\"'?/]+"), r"/\1/[token]"),
    # Phone numbers: + or 0 then 9-14 more digits, spaces allowed, not part of a longer number, a time
    # or an address's local part (``07700900123@example.org`` is an address, redacted whole below).
    (re.compile(r"(?<![\w:.+-])(?:\+|0)\d(?:[ ]?\d){8,13}(?![\w:@])"), "[phone]"),
    (re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"), "[postcode]"),
)
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "_granian", "granian.access")
#: Database drivers that log every statement with its parameters (addresses, postcodes, names) below
#: WARNING, which no redaction can recognise: they stay at WARNING whatever the service's level.
STATEMENT_LOGGERS = ("aiosqlite", "sqlalchemy.engine")
#: Characters that end a line or drive a terminal: in a text line they would let a caller's path or
#: exception text start a line of its own (a forged entry) or recolour the screen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines, redacted field by field before encoding: redacting the encoded text could cut an
    escape in half (an escaped quote turned into a closing one: a broken or forged line) and miss a
    detail that an escape sits against (``\\n07700 900123``)."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _redacted(value) for key, value in super().process_log_record(log_data).items()}


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


class RedactingFormatter(logging.Formatter):
    """Text lines. The record's line is escaped, so that a caller's newline or terminal escape (in a
    path, in exception text) cannot start a line that reads as a record of its own; a traceback
    follows, each of its lines indented and escaped alike. Redacted before escaping: an escape must
    not hide an address from the patterns."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(redact(self.formatMessage(record)))
        if record.exc_info:
            text += _indented(self.formatException(record.exc_info))
        if record.stack_info:
            text += _indented(self.formatStack(record.stack_info))
        return text


def _indented(block: str) -> str:
    return "".join("\n    " + escape_controls(redact(line)) for line in block.splitlines())


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
    wanted = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    statements = {"level": logging.getLevelName(max(wanted, logging.WARNING))}
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
        }
        | {name: statements for name in STATEMENT_LOGGERS},
    }


def configure(fmt: str, level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(fmt, level))
