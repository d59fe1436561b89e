"""The settings' sections: what each setting may be and what it is when unset, written once.

Each section is a frozen msgspec Struct (``settings.checks``, ``settings.webhooks``) whose field types
carry their accepted range and whose defaults are written beside them. They are kept apart from how
the environment fills them (``environment.py``) so that a setting's rule and default are read in one
place, and so the refusal an operator sees is made from the same type the value is held to.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from consent_service.domain.destinations import PUBLIC_HOSTS, Destinations

# The types below carry each rule once; the refusal's wording is made from them
# (``environment._accepted``). A number's description is its unit; a text's description is what it
# must be.
Seconds = Annotated[float, Meta(gt=0, description="seconds")]
Wait = Annotated[float, Meta(ge=0, description="seconds")]
RequestsPerMinute = Annotated[int, Meta(ge=1, description="requests per minute")]
Tries = Annotated[int, Meta(ge=1, description="tries")]
Entries = Annotated[int, Meta(ge=1, description="entries")]
Days = Annotated[int, Meta(ge=1, description="days")]
Years = Annotated[int, Meta(ge=1, description="years")]
DatabaseUrl = Annotated[
    str,
    Meta(
        pattern=r"^(postgresql\+asyncpg://|sqlite\+aiosqlite:///)",
        description="a postgresql://, postgres:// or sqlite:/// URL",
    ),
]
RedisUrl = Annotated[
    str, Meta(pattern=r"^(redis|rediss|unix)://", description="a redis://, rediss:// or unix:// URL")
]
WebUrl = Annotated[str, Meta(pattern=r"^https?://[^/]", description="an http:// or https:// URL")]
Region = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="a two-letter region code such as GB")]
CacheMode = Literal["auto", "redis", "host", "off"]
LogFormat = Literal["auto", "json", "text"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Database(Struct, frozen=True, kw_only=True):
    #: Embedded: SQLite in the data dir. Given plain (``postgresql://``), it is given its async driver.
    url: DatabaseUrl
    #: How long any request but a check waits for the database before it is answered 503.
    timeout: Seconds = 5.0


class Checks(Struct, frozen=True, kw_only=True):
    #: How long a check waits for the database before it fails closed (DESIGN §4.2).
    timeout: Seconds = 0.2
    #: Where checks keep answers between requests: "auto" (Redis if configured, else this host's memory
    #: when embedded, else nowhere), "redis", "host" or "off".
    cache: CacheMode = "auto"
    #: Seconds a cached answer lives at most, however quiet the ledger.
    cache_ttl: Seconds = 5.0
    #: Seconds a worker trusts the Redis change signal between reads; each write waits this long.
    cache_lease: Wait = 0.02


class Links(Struct, frozen=True, kw_only=True):
    #: The base of the links minted for families; ``https://`` also makes the page cookies secure.
    public_base_url: WebUrl = "http://127.0.0.1:8000"
    signing_key: bytes
    #: Keys that no longer sign links but still verify them, so old emails' links keep working.
    retired_keys: tuple[bytes, ...] = ()


class Limits(Struct, frozen=True, kw_only=True):
    #: Requests per minute per client address on the public pages (a valid opt-out is never refused).
    public_rate_limit: RequestsPerMinute = 60


class Webhooks(Struct, frozen=True, kw_only=True):
    timeout: Seconds = 5.0
    max_attempts: Tries = 8
    backoff: Seconds = 1.0
    backoff_max: Seconds = 300.0
    #: Where webhooks may be sent: "public" hosts, host names, IP networks (domain/destinations.py).
    destinations: Destinations = PUBLIC_HOSTS


class Changes(Struct, frozen=True, kw_only=True):
    #: The Redis stream the relay publishes changes to when there is Redis (None: no stream; the feed
    #: and webhooks remain).
    stream: str | None = "consent:changes"
    stream_maxlen: Entries = 100_000
    #: Seconds between relay rounds when nothing wakes it (a commit in the same worker does).
    relay_interval: Seconds = 0.5
    #: Days a told change stays in the outbox for the pull feed (``GET /v1/changes``).
    outbox_retention_days: Days = 30


class Feedback(Struct, frozen=True, kw_only=True):
    """Provider feedback (bounces, complaints, unsubscribes). A provider left unset is not configured."""

    #: SNS topics whose SES notifications are taken, and the SNS signing certificate(s) as PEM text.
    ses_topic_arns: tuple[str, ...] = ()
    ses_signing_cert: str | None = None
    #: The SendGrid Event Webhook verification key (base64 DER, as SendGrid shows it, or PEM).
    sendgrid_public_key: str | None = None
    #: The Mailgun HTTP webhook signing key.
    mailgun_signing_key: str | None = None


class Organisation(Struct, frozen=True, kw_only=True):
    """The organisation named as controller on consent receipts."""

    name: str = "The organisation"
    contact: str = ""
    email: str = ""
    address: str = ""
    phone: str = ""
    policy_url: str = ""


class Retention(Struct, frozen=True, kw_only=True):
    #: Erase people with no recorded activity for this many years (``None``: keep until asked).
    inactive_years: Years | None = None


class Logs(Struct, frozen=True, kw_only=True):
    #: "json", "text", or "auto" (JSON unless stderr is a terminal).
    format: LogFormat = "auto"
    level: LogLevel = "INFO"
