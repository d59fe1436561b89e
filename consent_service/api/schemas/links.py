"""Unsubscribe links, for the messages an organisation sends."""

from __future__ import annotations

from typing import Literal

from consent_service.api.schemas.common import Code, ContactValue, In, Out
from consent_service.domain.channels import Channel


class UnsubscribeLinkIn(In, kw_only=True, frozen=True):
    to: ContactValue
    channel: Channel
    purpose: Code = "marketing"
    #: The language the pages open in (``?lang=`` on both links, outside the signature: a display
    #: choice, not a capability). Unset, the family's browser chooses (Accept-Language), else English.
    language: Literal["en", "cy"] | None = None


class UnsubscribeLinkOut(Out, kw_only=True):
    url: str
    preferences_url: str
    #: The two headers a mailing tool adds to the message (RFC 2369, RFC 8058).
    headers: dict[str, str]
