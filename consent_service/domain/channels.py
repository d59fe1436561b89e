"""Channels the organisation contacts people on, and which kind of contact point serves each."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    POSTAL = "postal"


#: A phone number serves both text messages and calls.
CHANNEL_KIND: dict[Channel, ContactKind] = {
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.SMS: ContactKind.PHONE,
    Channel.PHONE: ContactKind.PHONE,
    Channel.POST: ContactKind.POSTAL,
}


def channels_served_by(kind: ContactKind) -> tuple[Channel, ...]:
    return tuple(channel for channel, served_by in CHANNEL_KIND.items() if served_by is kind)
