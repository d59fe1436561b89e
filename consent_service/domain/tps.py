"""The Telephone Preference Service and its corporate twin (TPS, CTPS): screening files and their age.

PECR reg 21 forbids a live marketing call to a number on either register unless the subscriber has
told this organisation they do not, for the time being, object to its calls; the ICO expects a calling
list screened at least every 28 days. A screening file is the organisation's numbers found on a
register on the day it was screened: one number a line, or CSV with a ``number`` column. Its numbers
are kept by fingerprint, like the suppression list, and only the latest screening of each register
counts, so a number that has left the register is no longer listed once a newer file is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import ContactPoint, contact_point
from consent_service.domain.csv_rows import BadFile, RowError, read_table
from consent_service.domain.errors import InvalidContact

#: Screening older than this answers ``tps_screening_stale`` for every live marketing call (ICO:
#: "screen against the TPS ... at least every 28 days").
MAX_SCREENING_AGE = timedelta(days=28)


class Register(StrEnum):
    TPS = "tps"
    CTPS = "ctps"


@dataclass(frozen=True, slots=True)
class Screening:
    """What the latest screenings say of one number: listed on either register, and the oldest of the
    latest screening dates of the registers the organisation screens against (None when it has never
    imported a screening: as stale as can be)."""

    listed: bool
    screened_on: date | None

    def stale_at(self, at: datetime) -> bool:
        return self.screened_on is None or at.date() - self.screened_on > MAX_SCREENING_AGE


@dataclass(frozen=True, slots=True)
class ScreenedNumber:
    line: int
    point: ContactPoint


def screening_rows(text: str, default_region: str) -> tuple[list[ScreenedNumber], list[RowError]]:
    """The numbers of a screening file, normalised to E.164 as the service's own phone numbers are,
    and a row error naming the line of each that is not a number."""
    lines = text.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if "," in first or first.lower() == "number":
        table = read_table(text)
        if "number" not in table.header:
            raise BadFile("a CSV screening file has a number column")
        raw = [(record.line, record.get("number")) for record in table.records]
        errors = list(table.errors)
    else:
        raw = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
        errors = []
    numbers: list[ScreenedNumber] = []
    for line, value in raw:
        if not value:
            errors.append(RowError(line, "number: empty"))
            continue
        try:
            numbers.append(ScreenedNumber(line, contact_point(ContactKind.PHONE, value, default_region)))
        except InvalidContact as exc:
            errors.append(RowError(line, f"number: invalid phone: {exc}"))
    return numbers, sorted(errors, key=lambda e: e.line)
