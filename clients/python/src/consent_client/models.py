"""What the service answers, as typed values; and the answer given when it does not answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

#: An email address or phone number as a string, or a postal address ``{"lines": [...], "postcode": ...}``.
Contact = str | Mapping[str, Any]

#: The reason given when the service could not be asked: no answer means do not send marketing.
UNREACHABLE = "unreachable"


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """May this message be sent? Send only when ``allowed`` is True.

    ``degraded`` is True when the service answered from a degraded store, or did not answer at all
    (``reason == "unreachable"``); such a decision never allows marketing.
    """

    allowed: bool
    reason: str
    degraded: bool = False
    basis: str | None = None
    evidence: dict[str, Any] | None = None


class BulkResult(msgspec.Struct, frozen=True, kw_only=True):
    """One address of a bulk check, in input order. ``error`` names why a line could not be read."""

    to: Contact
    allowed: bool
    reason: str
    degraded: bool = False
    error: str | None = None


class Links(msgspec.Struct, frozen=True, kw_only=True):
    """The unsubscribe and preferences links for one recipient, and the two headers to add to the message."""

    url: str
    preferences_url: str
    headers: dict[str, str]


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One change: ids and fingerprints, never contact details. De-duplicate by ``id`` (at least once)."""

    position: int
    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class ChangesPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Change]
    #: Pass as ``after`` to read on; the same as ``after`` when nothing new has happened.
    next_cursor: int


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    fingerprint: str
    channel: str
    scope: str
    reason: str


def unreachable(degraded: bool = True) -> Decision:
    return Decision(allowed=False, reason=UNREACHABLE, degraded=degraded)
