"""Consent files: a row per person, its addresses, and a column per purpose and channel.

The choice columns are named after the catalogue (``marketing_email``, ``testimonial``), so the
header is read against it and an unknown column refuses the file. Whether a row's choice would
change anything is decided against the person's current state, so that running a file again adds
no events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.contacts import ContactPoint, contact_point
from consent_service.domain.csv_rows import BadFile, RowError, Table, bounded, parse_time
from consent_service.domain.errors import InvalidContact
from consent_service.domain.ledger import ConsentKey, CurrentConsent, Decision
from consent_service.domain.purposes import Catalogue

MAX_NAME = 200

YES = frozenset({"yes", "y", "true", "1", "granted"})
NO = frozenset({"no", "n", "false", "0", "withdrawn"})

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
                person[column] = bounded(record, column, MAX_NAME)
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
