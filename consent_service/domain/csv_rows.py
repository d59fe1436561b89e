"""Reading the CSV files an organisation imports, and what every kind of file shares.

The files come from spreadsheets and mailing tools, so they are checked row by row: each row is
kept or refused on its own, named by the line it starts on, and only a file whose layout cannot be
read is refused whole. Pure: the text of a file goes in, records and errors come out; nothing here
reads the database (whether a row changes anything is the service's question).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from consent_service.domain.errors import DomainError

#: A time said to lie further ahead than this is a mistake in the file, not a plan.
CLOCK_SKEW = timedelta(minutes=5)


class BadFile(DomainError):
    """The file as a whole cannot be read as the format asked for; no row of it is looked at."""

    title = "File refused"


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record: the line it starts on and its values by column, trimmed."""

    line: int
    values: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[str, ...]
    records: tuple[Record, ...]
    errors: tuple[RowError, ...]


def read_table(text: str) -> Table:
    """The header and the records of a CSV text; a record with more fields than the header is a row error.

    Blank lines and records whose every field is empty (spreadsheets leave them behind) are skipped.
    """
    reader = csv.reader(io.StringIO(text))
    header: tuple[str, ...] | None = None
    records: list[Record] = []
    errors: list[RowError] = []
    try:
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            if not any(field.strip() for field in fields):
                continue
            if header is None:
                header = tuple(field.strip() for field in fields)
                _check_header(header)
                continue
            if len(fields) > len(header):
                errors.append(RowError(line, f"{len(fields)} fields, but the header has {len(header)}"))
                continue
            records.append(
                Record(line, {name: value.strip() for name, value in zip(header, fields, strict=False)})
            )
    except csv.Error as exc:
        raise BadFile(f"line {reader.line_num}: not readable as CSV ({exc})") from exc
    if header is None:
        raise BadFile("the file is empty: no header line")
    return Table(header, tuple(records), tuple(errors))


def _check_header(header: tuple[str, ...]) -> None:
    if any(not name for name in header):
        raise BadFile("the header has an empty column name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise BadFile(f"the header names a column more than once: {', '.join(repeated)}")


def parse_time(value: str, column: str, now: datetime) -> datetime:
    """An ISO 8601 date or date and time; without an offset it is taken as UTC. Raises ValueError."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ValueError(
            f"{column}: {value!r} is not a date (2024-03-01) or a date and time (2024-03-01 14:30:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01 at +01:00 is in year 0, 9999-12-31 at -01:00 in year 10000
        raise ValueError(
            f"{column}: {value!r} is outside the times that can be stored (years 1 to 9999 in UTC)"
        ) from None
    if parsed > now + CLOCK_SKEW:
        raise ValueError(f"{column}: {value!r} is in the future")
    return parsed


def bounded(record: Record, column: str, limit: int) -> str | None:
    """A free-text column, ``None`` when empty. Raises ValueError past ``limit`` characters."""
    value = record.get(column)
    if len(value) > limit:
        raise ValueError(f"{column}: longer than {limit} characters")
    return value or None
