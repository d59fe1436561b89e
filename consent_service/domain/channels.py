"""Channels the organisation contacts people on, and which kind of contact point serves each."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    #: A call made by an automated calling system that plays a recorded message: PECR reg 19 allows
    #: it for marketing only with consent, so it is a channel of its own, never covered by a consent
    #: to live calls (``phone``).
    AUTOMATED_CALL = "automated_call"


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    POSTAL = "postal"


#: A phone number serves text messages and calls, live or automated.
CHANNEL_KIND: dict[Channel, ContactKind] = {
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.SMS: ContactKind.PHONE,
    Channel.PHONE: ContactKind.PHONE,
    Channel.POST: ContactKind.POSTAL,
    Channel.AUTOMATED_CALL: ContactKind.PHONE,
}


def channels_served_by(kind: ContactKind) -> tuple[Channel, ...]:
    return tuple(channel for channel, served_by in CHANNEL_KIND.items() if served_by is kind)
