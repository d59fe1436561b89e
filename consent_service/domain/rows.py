"""Rows of the CSV files the organisation imports, each checked on its own and named by its line.

Pure: the text of a file goes in; typed rows, row errors (line and reason) and file-level refusals
come out. Nothing here reads the database: whether a row changes anything is the service's question.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.contacts import ContactPoint, contact_point, guess_kind
from consent_service.domain.errors import DomainError, InvalidContact
from consent_service.domain.ledger import ConsentKey, CurrentConsent, Decision
from consent_service.domain.purposes import Catalogue
from consent_service.domain.suppressions import Scope, SuppressionReason

#: A time said to lie further ahead than this is a mistake in the file, not a plan.
CLOCK_SKEW = timedelta(minutes=5)
MAX_NAME = 200
MAX_NOTE = 2000

YES = frozenset({"yes", "y", "true", "1", "granted"})
NO = frozenset({"no", "n", "false", "0", "withdrawn"})


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
    parsed = parsed.astimezone(UTC)
    if parsed > now + CLOCK_SKEW:
        raise ValueError(f"{column}: {value!r} is in the future")
    return parsed


def _bounded(record: Record, column: str, limit: int) -> str | None:
    value = record.get(column)
    if len(value) > limit:
        raise ValueError(f"{column}: longer than {limit} characters")
    return value or None


# --- suppressions ---------------------------------------------------------------------------------


class SuppressionFormat(StrEnum):
    GENERIC = "generic"
    MAILCHIMP_UNSUBSCRIBED = "mailchimp-unsubscribed"
    MAILCHIMP_CLEANED = "mailchimp-cleaned"


GENERIC_COLUMNS = ("email", "to", "channel", "reason", "scope", "note", "effective_at")
MAILCHIMP_EMAIL = "Email Address"


@dataclass(frozen=True, slots=True)
class _Mailchimp:
    """What marks one section of a Mailchimp audience export, and what its rows mean here."""

    time: str
    campaign: str
    reason: SuppressionReason
    label: str
    why: str | None = None


MAILCHIMP: dict[SuppressionFormat, _Mailchimp] = {
    SuppressionFormat.MAILCHIMP_UNSUBSCRIBED: _Mailchimp(
        "UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", SuppressionReason.UNSUBSCRIBED, "unsubscribed", "UNSUB_REASON"
    ),
    SuppressionFormat.MAILCHIMP_CLEANED: _Mailchimp(
        "CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", SuppressionReason.HARD_BOUNCE, "cleaned"
    ),
}


@dataclass(frozen=True, slots=True)
class SuppressionRow:
    line: int
    point: ContactPoint
    channel: Channel | None
    scope: Scope
    reason: SuppressionReason
    note: str | None
    effective_at: datetime | None


def suppression_rows(
    table: Table, fmt: SuppressionFormat, now: datetime, default_region: str
) -> tuple[list[SuppressionRow], list[RowError]]:
    """Every row of a suppression file checked; the header is refused as a whole if it does not fit."""
    if fmt is SuppressionFormat.GENERIC:
        _generic_header(table.header)
    else:
        _mailchimp_header(table.header, fmt)
    rows: list[SuppressionRow] = []
    errors = list(table.errors)
    for record in table.records:
        try:
            if fmt is SuppressionFormat.GENERIC:
                rows.append(_generic_row(record, now, default_region))
            else:
                rows.append(_mailchimp_row(record, MAILCHIMP[fmt], now))
        except ValueError as exc:
            errors.append(RowError(record.line, str(exc)))
    return rows, sorted(errors, key=lambda e: e.line)


def _generic_header(header: tuple[str, ...]) -> None:
    unknown = [name for name in header if name not in GENERIC_COLUMNS]
    if unknown:
        raise BadFile(
            f"unknown column {', '.join(unknown)}; a generic suppression file has the columns "
            f"{', '.join(GENERIC_COLUMNS)}"
        )
    if ("email" in header) == ("to" in header):
        raise BadFile("a generic suppression file has an email column or a to column (one of them)")


def _mailchimp_header(header: tuple[str, ...], fmt: SuppressionFormat) -> None:
    section = MAILCHIMP[fmt]
    if MAILCHIMP_EMAIL not in header:
        raise BadFile(f"no {MAILCHIMP_EMAIL!r} column: this is not a Mailchimp audience export")
    if section.time not in header:
        others = [f.value for f, s in MAILCHIMP.items() if s.time in header]
        hint = f" (it looks like --format {others[0]})" if others else " (is it the subscribed export?)"
        raise BadFile(f"no {section.time} column: this is not Mailchimp's {section.label} export{hint}")


def _choice(value: str, column: str, enum: type[StrEnum], default: str) -> str:
    text = (value or default).strip().lower()
    allowed = [member.value for member in enum]
    if text not in allowed:
        raise ValueError(f"{column}: unknown value {value!r} (one of {', '.join(allowed)})")
    return text


def _generic_row(record: Record, now: datetime, default_region: str) -> SuppressionRow:
    column = "email" if "email" in record.values else "to"
    raw = record.get(column)
    if not raw:
        raise ValueError(f"{column}: empty")
    channel_text = (record.get("channel") or "email").strip().lower()
    channel = None if channel_text == "all" else Channel(_choice(channel_text, "channel", Channel, "email"))
    if column == "email" and channel not in (None, Channel.EMAIL):
        raise ValueError(f"channel: {channel_text!r} with an email column (use a to column)")
    if channel is Channel.POST:
        raise ValueError("channel: postal addresses cannot be imported from this file; suppress them by API")
    kind = CHANNEL_KIND[channel] if channel else (ContactKind.EMAIL if column == "email" else guess_kind(raw))
    try:
        point = contact_point(kind, raw, default_region)
    except InvalidContact as exc:
        raise ValueError(f"{column}: invalid {kind.value}: {exc}") from None
    at = record.get("effective_at")
    return SuppressionRow(
        line=record.line,
        point=point,
        channel=channel,
        scope=Scope(_choice(record.get("scope"), "scope", Scope, Scope.MARKETING)),
        reason=SuppressionReason(
            _choice(record.get("reason"), "reason", SuppressionReason, SuppressionReason.IMPORTED)
        ),
        note=_bounded(record, "note", MAX_NOTE),
        effective_at=parse_time(at, "effective_at", now) if at else None,
    )


def _mailchimp_row(record: Record, section: _Mailchimp, now: datetime) -> SuppressionRow:
    raw = record.get(MAILCHIMP_EMAIL)
    if not raw:
        raise ValueError(f"{MAILCHIMP_EMAIL}: empty")
    try:
        point = contact_point(ContactKind.EMAIL, raw)
    except InvalidContact as exc:
        raise ValueError(f"{MAILCHIMP_EMAIL}: invalid email: {exc}") from None
    at = record.get(section.time)
    # Free text the person typed (UNSUB_REASON_OTHER) is left behind: a note holds no personal data.
    details = [f"Mailchimp {section.label} export"]
    if campaign := record.get(section.campaign):
        details.append(f"campaign: {campaign}")
    if section.why and (why := record.get(section.why)):
        details.append(f"reason given: {why}")
    return SuppressionRow(
        line=record.line,
        point=point,
        channel=Channel.EMAIL,
        scope=Scope.MARKETING,
        reason=section.reason,
        note="; ".join(details)[:MAX_NOTE],
        effective_at=parse_time(at, section.time, now) if at else None,
    )


# --- consents -------------------------------------------------------------------------------------

PERSON_COLUMNS = ("reference", "display_name", "household", "email", "phone", "effective_at")


@dataclass(frozen=True, slots=True)
class RowChoice:
    column: str
    purpose: str
    channel: Channel | None
    decision: Decision


@dataclass(frozen=True, slots=True)
class ConsentRow:
    line: int
    reference: str | None
    display_name: str | None
    household: str | None
    contacts: tuple[ContactPoint, ...]
    choices: tuple[RowChoice, ...]
    effective_at: datetime | None


def choice_columns(header: tuple[str, ...], catalogue: Catalogue) -> dict[str, ConsentKey]:
    """The purpose and channel of each choice column (``marketing_email``, ``testimonial``).

    A column that is neither a person column nor a purpose and channel of the catalogue refuses the file.
    """
    if "email" not in header and "phone" not in header:
        raise BadFile("a consent file has an email column, a phone column, or both")
    columns: dict[str, ConsentKey] = {}
    unknown: list[str] = []
    for name in header:
        if name in PERSON_COLUMNS:
            continue
        key = _choice_key(name, catalogue)
        if key is None:
            unknown.append(name)
        else:
            columns[name] = key
    if unknown:
        known = sorted(f"{p.code}_{c.value}" if c else p.code for p in catalogue for c in p.channels)
        raise BadFile(
            f"unknown column {', '.join(unknown)}; a consent file has {', '.join(PERSON_COLUMNS)} and a "
            f"column per choice: {', '.join(known)}"
        )
    return columns


def _choice_key(name: str, catalogue: Catalogue) -> ConsentKey | None:
    purpose = catalogue.get(name)
    if purpose is not None and None in purpose.bases:
        return (purpose.code, None)
    code, _, channel = name.rpartition("_")
    purpose = catalogue.get(code)
    if purpose is None or channel not in {c.value for c in Channel}:
        return None
    return (code, Channel(channel)) if Channel(channel) in purpose.bases else None


def _decision(value: str, column: str) -> Decision | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in YES:
        return Decision.GRANTED
    if text in NO:
        return Decision.WITHDRAWN
    raise ValueError(f"{column}: unknown value {value!r} (yes or no)")


def consent_rows(
    table: Table, columns: Mapping[str, ConsentKey], now: datetime, default_region: str
) -> tuple[list[ConsentRow], list[RowError]]:
    rows: list[ConsentRow] = []
    errors = list(table.errors)
    for record in table.records:
        problems: list[str] = []
        contacts: list[ContactPoint] = []
        for kind, column in ((ContactKind.EMAIL, "email"), (ContactKind.PHONE, "phone")):
            if raw := record.get(column):
                try:
                    contacts.append(contact_point(kind, raw, default_region))
                except InvalidContact as exc:
                    problems.append(f"{column}: invalid {kind.value}: {exc}")
        if not contacts and not problems:
            problems.append("no email or phone")
        choices: list[RowChoice] = []
        for column, (purpose, channel) in columns.items():
            try:
                decision = _decision(record.get(column), column)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if decision is not None:
                choices.append(RowChoice(column, purpose, channel, decision))
        person: dict[str, str | None] = {}
        for column in ("reference", "display_name", "household"):
            try:
                person[column] = _bounded(record, column, MAX_NAME)
            except ValueError as exc:
                problems.append(str(exc))
        effective_at = None
        if at := record.get("effective_at"):
            try:
                effective_at = parse_time(at, "effective_at", now)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            errors.append(RowError(record.line, "; ".join(problems)))
            continue
        rows.append(
            ConsentRow(
                line=record.line,
                reference=person["reference"],
                display_name=person["display_name"],
                household=person["household"],
                contacts=tuple(contacts),
                choices=tuple(choices),
                effective_at=effective_at,
            )
        )
    return rows, sorted(errors, key=lambda e: e.line)


Outcome = Literal["record", "unchanged", "superseded"]


def compare_choice(current: CurrentConsent | None, decision: Decision, at: datetime) -> Outcome:
    """What recording ``decision`` effective ``at`` would do to the current state.

    The same decision already in force is ``unchanged``. An older choice than the one in force would
    go into history only (and, on a tie, a withdrawal wins): an import skips it as ``superseded``, so
    that running a file again never adds events.
    """
    if current is None:
        return "record"
    if current.decision is decision:
        return "unchanged"
    if current.effective_at > at or (current.effective_at == at and current.decision is Decision.WITHDRAWN):
        return "superseded"
    return "record"
