"""Pieces every body shares: the input and output bases and the constrained strings.

Each constraint is a type here, so that validation and the OpenAPI schema come from one place and
two bodies taking the same kind of value (a purpose code, a time, an address) check it alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta


class In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Base of every input body."""


class Out(msgspec.Struct, kw_only=True):
    """Base of every response body."""


Text200 = Annotated[str, Meta(min_length=1, max_length=200)]


Note = Annotated[str, Meta(max_length=2000)]


Code = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{1,63}$", examples=["marketing"])]


Uuid = Annotated[str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


Time = Annotated[
    datetime,
    Meta(tz=True, description="RFC 3339 with a time zone, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"),
]


#: A suppression can name one channel or every channel.
ChannelOrAll = Literal["email", "sms", "phone", "post", "automated_call", "all"]


#: A purpose's basis is given per channel, or for "none" when it has no channel (a testimonial).
ChannelOrNone = Literal["email", "sms", "phone", "post", "automated_call", "none"]


ApiSource = Literal["web_form", "paper_form", "phone_call", "email", "letter", "in_person", "import"]


class PostalAddress(In, kw_only=True, frozen=True):
    lines: Annotated[list[Annotated[str, Meta(max_length=200)]], Meta(min_length=1, max_length=8)]
    postcode: Annotated[str, Meta(min_length=2, max_length=16)]


ContactValue = Annotated[str, Meta(min_length=1, max_length=320)] | PostalAddress
