"""Everything the service logs during a test, as an operator would read it and as records.

The service's own logging configuration (``logs.log_config``) is installed at DEBUG, the most it can
be told to say, with its JSON handler writing to a buffer; beside it a second handler renders the
same records in the text format (what a terminal shows), and a third keeps the records themselves, so
a test can look at their arguments and extra fields too, before any formatter has touched them.
"""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from consent_service import logs
from tests.support.log_sweep import NotTheTestClient


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Captured:
    json_stream: io.StringIO
    text_stream: io.StringIO
    keeper: _Keep
    _marks: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.keeper.records

    @property
    def json_lines(self) -> list[str]:
        return self.json_stream.getvalue().splitlines(keepends=True)

    @property
    def text_lines(self) -> list[str]:
        return self.text_stream.getvalue().splitlines(keepends=True)

    def raw_parts(self) -> list[str]:
        """What each record carried before formatting: message, arguments, extra fields, exception."""
        standard = set(vars(logging.makeLogRecord({})))
        parts: list[str] = []
        for record in self.records:
            parts.append(str(record.msg))
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            parts.extend(repr(a) for a in args if a is not None)
            parts.extend(f"{k}={v!r}" for k, v in vars(record).items() if k not in standard)
            if record.exc_info and record.exc_info[1] is not None:
                parts.append(repr(record.exc_info[1]))
        return parts


@pytest.fixture
def captured() -> Iterator[Captured]:
    root = logging.getLogger()
    kept_root = (list(root.handlers), root.level)
    server_loggers = [logging.getLogger(name) for name in logs.SERVER_LOGGERS]
    kept_servers = [(list(lg.handlers), lg.level, lg.propagate) for lg in server_loggers]

    json_stream, text_stream = io.StringIO(), io.StringIO()
    config = logs.log_config("json", "DEBUG")
    config["handlers"]["main"]["stream"] = json_stream
    text = logs.log_config("text", "DEBUG")["formatters"]["main"]
    config["formatters"]["text"] = text
    config["handlers"]["text"] = {**config["handlers"]["main"], "formatter": "text", "stream": text_stream}
    config["root"]["handlers"] = ["main", "text"]
    logging.config.dictConfig(config)
    keeper = _Keep()
    root.addHandler(keeper)
    for handler in root.handlers:
        handler.addFilter(NotTheTestClient())
    try:
        yield Captured(json_stream, text_stream, keeper)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in kept_root[0]:
            root.addHandler(handler)
        root.setLevel(kept_root[1])
        for lg, (handlers, level, propagate) in zip(server_loggers, kept_servers, strict=True):
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
