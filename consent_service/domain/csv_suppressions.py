"""Suppression files: the generic CSV layout and Mailchimp's unsubscribed and cleaned exports.

Each format names its own columns, so a header that does not fit the format asked for refuses the
whole file (with a hint when it fits another); each row then becomes a suppression to add, or a row
error naming its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.contacts import ContactPoint, contact_point, guess_kind
from consent_service.domain.csv_rows import BadFile, Record, RowError, Table, bounded, parse_time
from consent_service.domain.errors import InvalidContact
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope

MAX_NOTE = 2000


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
class SuppressionFileRow:
    line: int
    point: ContactPoint
    channel: Channel | None
    scope: SuppressionScope
    reason: SuppressionReason
    note: str | None
    effective_at: datetime | None


def suppression_rows(
    table: Table, fmt: SuppressionFormat, now: datetime, default_region: str
) -> tuple[list[SuppressionFileRow], list[RowError]]:
    """Every row of a suppression file checked; the header is refused as a whole if it does not fit."""
    if fmt is SuppressionFormat.GENERIC:
        _generic_header(table.header)
    else:
        _mailchimp_header(table.header, fmt)
    rows: list[SuppressionFileRow] = []
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


def _generic_row(record: Record, now: datetime, default_region: str) -> SuppressionFileRow:
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
    return SuppressionFileRow(
        line=record.line,
        point=point,
        channel=channel,
        scope=SuppressionScope(
            _choice(record.get("scope"), "scope", SuppressionScope, SuppressionScope.MARKETING)
        ),
        reason=SuppressionReason(
            _choice(record.get("reason"), "reason", SuppressionReason, SuppressionReason.IMPORTED)
        ),
        note=bounded(record, "note", MAX_NOTE),
        effective_at=parse_time(at, "effective_at", now) if at else None,
    )


def _mailchimp_row(record: Record, section: _Mailchimp, now: datetime) -> SuppressionFileRow:
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
    return SuppressionFileRow(
        line=record.line,
        point=point,
        channel=Channel.EMAIL,
        scope=SuppressionScope.MARKETING,
        reason=section.reason,
        note="; ".join(details)[:MAX_NOTE],
        effective_at=parse_time(at, section.time, now) if at else None,
    )
