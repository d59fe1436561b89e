"""Suppression files: the generic CSV layout, Mailchimp's unsubscribed and cleaned exports, and the
Fundraising Preference Service's suppression requests.

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
from consent_service.domain.csv_rows import BadFile, Record, RowError, Table, parse_time
from consent_service.domain.errors import InvalidContact
from consent_service.domain.suppressions import SuppressionReason, SuppressionScope


class SuppressionFormat(StrEnum):
    GENERIC = "generic"
    MAILCHIMP_UNSUBSCRIBED = "mailchimp-unsubscribed"
    MAILCHIMP_CLEANED = "mailchimp-cleaned"
    FPS = "fps"


GENERIC_COLUMNS = ("email", "to", "channel", "reason", "scope", "note", "effective_at")
#: Columns a generic file may still carry and an import reads past: the suppression list keeps no free
#: text (docs/COMPLIANCE.md row 15), and a file is not refused for holding it, as an opt-out never is.
NOT_KEPT = ("note",)
MAILCHIMP_EMAIL = "Email Address"
#: The FPS portal download mapped to these columns (README "Fundraising Preference Service").
FPS_COLUMNS = ("email", "phone", "postcode", "address_line_1", "channels", "request_date")
#: What an FPS request names, and the channels each covers: ``phone`` is calls, live or automated;
#: texts are asked for as ``sms``.
FPS_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "email": (Channel.EMAIL,),
    "sms": (Channel.SMS,),
    "phone": (Channel.PHONE, Channel.AUTOMATED_CALL),
    "post": (Channel.POST,),
    "all": (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.AUTOMATED_CALL, Channel.POST),
}


@dataclass(frozen=True, slots=True)
class _Mailchimp:
    """What marks one section of a Mailchimp audience export, and what its rows mean here. Its other
    columns (the campaign, the reason the person gave) are read past: an entry keeps no free text."""

    time: str
    reason: SuppressionReason
    label: str


MAILCHIMP: dict[SuppressionFormat, _Mailchimp] = {
    SuppressionFormat.MAILCHIMP_UNSUBSCRIBED: _Mailchimp(
        "UNSUB_TIME", SuppressionReason.UNSUBSCRIBED, "unsubscribed"
    ),
    SuppressionFormat.MAILCHIMP_CLEANED: _Mailchimp("CLEAN_TIME", SuppressionReason.HARD_BOUNCE, "cleaned"),
}


@dataclass(frozen=True, slots=True)
class SuppressionFileRow:
    line: int
    point: ContactPoint
    channel: Channel | None
    scope: SuppressionScope
    reason: SuppressionReason
    effective_at: datetime | None

    @property
    def to(self) -> str | dict[str, object]:
        """The value to suppress as the suppression use case takes it (a postal address as an object)."""
        if self.point.kind is ContactKind.POSTAL:
            postcode, _, first = self.point.value.partition("|")
            return {"lines": [first], "postcode": postcode}
        return self.point.value


def suppression_rows(
    table: Table, fmt: SuppressionFormat, now: datetime, default_region: str
) -> tuple[list[SuppressionFileRow], list[RowError]]:
    """Every row of a suppression file checked; the header is refused as a whole if it does not fit."""
    if fmt is SuppressionFormat.GENERIC:
        _generic_header(table.header)
    elif fmt is SuppressionFormat.FPS:
        _fps_header(table.header)
    else:
        _mailchimp_header(table.header, fmt)
    rows: list[SuppressionFileRow] = []
    errors = list(table.errors)
    for record in table.records:
        try:
            if fmt is SuppressionFormat.GENERIC:
                rows.append(_generic_row(record, now, default_region))
            elif fmt is SuppressionFormat.FPS:
                rows.extend(fps_rows(record, now, default_region))
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
    return SuppressionFileRow(
        line=record.line,
        point=point,
        channel=Channel.EMAIL,
        scope=SuppressionScope.MARKETING,
        reason=section.reason,
        effective_at=parse_time(at, section.time, now) if at else None,
    )


def _fps_header(header: tuple[str, ...]) -> None:
    unknown = [name for name in header if name not in FPS_COLUMNS]
    if unknown:
        raise BadFile(
            f"unknown column {', '.join(unknown)}; an FPS file has the columns {', '.join(FPS_COLUMNS)}"
            " (map the FPS portal download's columns to these names)"
        )
    missing = [name for name in ("channels", "request_date") if name not in header]
    if missing:
        raise BadFile(f"an FPS file needs the column(s) {', '.join(missing)}")


def _fps_channels(text: str) -> list[Channel]:
    words = [w for w in text.replace(";", "|").replace(",", "|").replace(" ", "|").lower().split("|") if w]
    if not words:
        raise ValueError("channels: empty (email, sms, phone, post or all, separated by |)")
    unknown = [w for w in words if w not in FPS_CHANNELS]
    if unknown:
        raise ValueError(f"channels: unknown value {', '.join(unknown)} (email, sms, phone, post or all)")
    return list(dict.fromkeys(channel for word in words for channel in FPS_CHANNELS[word]))


def _fps_point(record: Record, channel: Channel, default_region: str) -> ContactPoint | None:
    """The contact point the request gives for ``channel``, or None when it gives none."""
    try:
        if channel is Channel.EMAIL:
            raw = record.get("email")
            return contact_point(ContactKind.EMAIL, raw) if raw else None
        if channel is Channel.POST:
            postcode, line = record.get("postcode"), record.get("address_line_1")
            if not postcode and not line:
                return None
            return contact_point(ContactKind.POSTAL, {"lines": [line], "postcode": postcode})
        raw = record.get("phone")
        return contact_point(ContactKind.PHONE, raw, default_region) if raw else None
    except InvalidContact as exc:
        column = {Channel.EMAIL: "email", Channel.POST: "postcode"}.get(channel, "phone")
        raise ValueError(f"{column}: invalid {CHANNEL_KIND[channel].value}: {exc}") from None


def fps_rows(record: Record, now: datetime, default_region: str) -> list[SuppressionFileRow]:
    """One FPS request: a marketing suppression (reason ``fps``) on each channel it names for which it
    gives a contact point. ``all`` covers the channels whose details it gives; a channel named on its
    own with no detail for it is a bad row, as the request cannot then be honoured. Only marketing is
    suppressed: the FPS stops fundraising, not the administrative messages a family still needs."""
    named = record.get("channels")
    channels = _fps_channels(named)
    at = record.get("request_date")
    if not at:
        raise ValueError("request_date: empty")
    requested = parse_time(at, "request_date", now)
    rows: list[SuppressionFileRow] = []
    for channel in channels:
        point = _fps_point(record, channel, default_region)
        if point is None:
            if "all" not in named.lower():
                column = {Channel.EMAIL: "email", Channel.POST: "postcode"}.get(channel, "phone")
                raise ValueError(f"{column}: empty, but the request names channel {channel.value}")
            continue
        rows.append(
            SuppressionFileRow(
                line=record.line,
                point=point,
                channel=channel,
                scope=SuppressionScope.MARKETING,
                reason=SuppressionReason.FPS,
                effective_at=requested,
            )
        )
    if not rows:
        raise ValueError("no email, phone or postal address for the channels the request names")
    return rows
