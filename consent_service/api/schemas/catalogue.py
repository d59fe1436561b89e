"""The catalogue of purposes and the notices people are shown, and the API keys that manage it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from consent_service.api.schemas.common import ChannelOrNone, Code, In, Note, Out, Text200, Time
from consent_service.domain.keys import KeyScope
from consent_service.domain.notices import NoticeKind
from consent_service.domain.purposes import Basis, Category


class PurposeIn(In, kw_only=True, frozen=True):
    code: Code
    category: Category
    description: Note = ""
    bases: Annotated[dict[ChannelOrNone, Basis], Meta(min_length=1)]
    #: Other controllers rely on a consent to it (a partnership's): a grant must cite a wording that
    #: names them (LEGAL #29).
    shares_with_controllers: bool = False


class NoticeIn(In, kw_only=True, frozen=True):
    purpose: Code
    text: Annotated[str, Meta(min_length=1, max_length=20_000)]
    language: Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "en"
    published_at: Time | None = None
    #: Only a consent request can back a grant; terms and privacy notices are kept beside it.
    kind: NoticeKind = NoticeKind.CONSENT_REQUEST
    #: The other controllers who rely on a consent given to this wording, by name (LEGAL #29).
    controllers: Annotated[list[Text200], Meta(max_length=50)] = []


class KeyIn(In, kw_only=True, frozen=True):
    name: Text200
    scopes: Annotated[list[KeyScope], Meta(min_length=1)]
    #: After this moment the key is refused (401), as if revoked; unset, it does not expire.
    expires_at: Time | None = None


class PurposeOut(Out, kw_only=True):
    code: str
    category: Category
    description: str
    bases: dict[str, Basis]
    shares_with_controllers: bool


class PurposesOut(Out, kw_only=True):
    items: list[PurposeOut]


class NoticeOut(Out, kw_only=True):
    id: str
    purpose: str
    version: int
    language: str
    text: str
    sha256: str
    published_at: datetime
    kind: NoticeKind
    controllers: list[str]


class NoticesOut(Out, kw_only=True):
    items: list[NoticeOut]


class KeyOut(Out, kw_only=True):
    id: str
    name: str
    scopes: list[KeyScope]
    created_at: datetime
    expires_at: datetime | None
    key: str = msgspec.field(name="key")


class KeyInfoOut(Out, kw_only=True):
    """A key as listed: never its secret, which is shown once when it is made."""

    id: str
    name: str
    scopes: list[KeyScope]
    created_at: datetime
    #: Recorded at most once a minute per key per worker, so up to a minute behind (None: never used).
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    #: Whether the key opens the API now: neither revoked nor expired.
    active: bool


class KeysOut(Out, kw_only=True):
    items: list[KeyInfoOut]
