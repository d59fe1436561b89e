"""The settings: what each may be and what it is when unset, written once, and the whole they make.

Each section is a frozen msgspec Struct (``settings.checks``, ``settings.webhooks``) whose field types
carry their accepted range and whose defaults are written beside them. ``Settings`` holds the sections;
``Settings.from_env`` makes it once, at start, and it is passed down, so the rest of the service asks
the settings and never the environment. Which variable fills which field, and what an operator is told
of a bad value, is ``environment.py``'s, worded from the same types so it cannot drift from the rule;
what the data dir holds is ``data_dir.py``'s.
"""

from __future__ import annotations

import hashlib
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from consent_service.config.data_dir import place
from consent_service.config.environment import (
    UNSET_WHEN_EMPTY,
    VARIABLES,
    SettingsError,
    decode,
    disagreements,
)
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
BearerToken = Annotated[
    str, Meta(min_length=10, description="at least 10 characters (GOV.UK Notify asks for 10 or more)")
]
DatabaseUrl = Annotated[
    str,
    Meta(
        pattern=r"^(postgresql\+asyncpg://|sqlite\+aiosqlite:///)",
        description="a postgresql://, postgres:// or sqlite:/// URL",
    ),
]
ReplicaUrl = Annotated[
    str,
    Meta(
        pattern=r"^postgresql\+asyncpg://",
        description="a postgresql:// or postgres:// URL of one hot standby",
    ),
]
RedisUrl = Annotated[
    str, Meta(pattern=r"^(redis|rediss|unix)://", description="a redis://, rediss:// or unix:// URL")
]
WebUrl = Annotated[str, Meta(pattern=r"^https?://[^/]", description="an http:// or https:// URL")]
MailAddress = Annotated[
    str,
    Meta(
        pattern=r"^[^@\s<>,:/?]+@[^@\s<>,:/?]+\.[^@\s<>,:/?]+$",
        description="an email address such as unsubscribe@example.org",
    ),
]
Sender = Annotated[
    str,
    Meta(
        pattern=r"^([^<>@]*<[^@\s<>,]+@[^@\s<>,]+>|[^@\s<>,]+@[^@\s<>,]+)$",
        description='an address such as news@example.org or "Name <news@example.org>"',
    ),
]
ListId = Annotated[
    str,
    Meta(
        pattern=r"^[^<>]*<[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)+>$",
        description="a List-Id (RFC 2919) such as <news.example.org>, a description before it optional",
    ),
]
Region = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="a two-letter region code such as GB")]
CacheMode = Literal["auto", "redis", "host", "off"]
LogFormat = Literal["auto", "json", "text"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
OrgTypeName = Literal["charity", "public_authority", "company"]


class Database(Struct, frozen=True, kw_only=True):
    #: Embedded: SQLite in the data dir. Given plain (``postgresql://``), it is given its async driver.
    url: DatabaseUrl
    #: How long any request but a check waits for the database before it is answered 503.
    timeout: Seconds = 5.0
    #: Seconds between checkpoints of the ledger's person chains (``audit verify`` checks them).
    checkpoint_every: Seconds = 60.0
    #: One PostgreSQL hot standby of ``url`` that checks may read from once it has replayed every
    #: acknowledged write (db/replica.py); None: checks read the primary.
    replica_url: ReplicaUrl | None = None


class Checks(Struct, frozen=True, kw_only=True):
    #: How long a check waits for the database before it fails closed (DESIGN §4.2).
    timeout: Seconds = 0.2
    #: Where checks keep answers between requests: "auto" (Redis if configured, else this host's memory
    #: when embedded, else nowhere), "redis", "host" or "off".
    cache: CacheMode = "auto"
    #: Seconds a cached answer lives at most, however quiet the ledger.
    cache_ttl: Seconds = 5.0
    #: Seconds a worker trusts its last read of the Redis change feed; each write waits this long.
    cache_lease: Wait = 0.02


class Links(Struct, frozen=True, kw_only=True):
    #: The base of the links minted for families; ``https://`` also makes the page cookies secure.
    public_base_url: WebUrl = "http://127.0.0.1:8000"
    signing_key: bytes
    #: Keys that no longer sign links but still verify them, so old emails' links keep working.
    retired_keys: tuple[bytes, ...] = ()
    #: A mailbox named in ``List-Unsubscribe`` after the HTTPS link (RFC 2369's ``mailto:``), for mail
    #: clients that offer only that; None: the HTTPS link alone, which RFC 8058 requires.
    unsubscribe_mailto: MailAddress | None = None


class Limits(Struct, frozen=True, kw_only=True):
    #: Requests per minute per client address on the public pages (a valid opt-out is never refused).
    public_rate_limit: RequestsPerMinute = 60
    #: Reverse proxies whose ``X-Forwarded-For`` / ``X-Real-IP`` name the client (IP networks in CIDR
    #: form); from any other peer those headers are ignored. Empty: the peer is the client.
    trusted_proxies: tuple[str, ...] = ()


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
    #: The bearer token set in GOV.UK Notify's callback settings for delivery receipts.
    notify_callback_token: BearerToken | None = None


class Organisation(Struct, frozen=True, kw_only=True):
    """The organisation named as controller on consent receipts, and what it is in law."""

    #: Which soft opt-in it may rely on (charity: PECR reg 22(3A); company: reg 22(3)) and whether it
    #: may have public-task purposes (public_authority). Charity by default: the service is written for
    #: family-support charities, and the default grants nothing a charity could not rely on.
    type: OrgTypeName = "charity"
    name: str = "The organisation"
    contact: str = ""
    email: str = ""
    address: str = ""
    phone: str = ""
    policy_url: str = ""


class Streams(Struct, frozen=True, kw_only=True):
    """Each purpose category's sender and ``List-Id`` (domain/streams.py); None: derived from the
    organisation's settings."""

    marketing_from: Sender | None = None
    marketing_list_id: ListId | None = None
    administrative_from: Sender | None = None
    administrative_list_id: ListId | None = None
    public_task_from: Sender | None = None
    public_task_list_id: ListId | None = None


class Screening(Struct, frozen=True, kw_only=True):
    """Preference services the organisation screens against (LEGAL #12, #19)."""

    #: Days within which a Fundraising Preference Service request must be acted on (the Fundraising
    #: Regulator gives 28); an import reports the requests it applies later than this.
    fps_deadline_days: Days = 28


class Retention(Struct, frozen=True, kw_only=True):
    #: Erase people with no recorded activity for this many years (``None``: keep until asked).
    inactive_years: Years | None = None
    #: Days a request's Idempotency-Key (and the answer kept for its replay) is held; ``retention run``
    #: forgets older ones.
    idempotency_days: Days = 30


class Logs(Struct, frozen=True, kw_only=True):
    #: "json", "text", or "auto" (JSON unless stderr is a terminal).
    format: LogFormat = "auto"
    level: LogLevel = "INFO"


class Settings(Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("var")
    database: Database
    fingerprint_key: bytes
    #: AES-256-GCM key of the contact details and names held (and the key of their search index).
    encryption_key: bytes
    links: Links
    redis_url: RedisUrl | None = None
    #: Where phone numbers written without a country code are taken to be.
    default_region: Region = "GB"
    #: Interactive API docs at ``/docs``; off, the schema alone is served at ``/schema``.
    docs: bool = True
    #: Keep a family's unsubscribe on this host's disk (in ``data_dir``) while the database is away,
    #: and apply it when it returns; off, such an unsubscribe is refused with a "try again" page.
    optout_spool: bool = True
    checks: Checks = Checks()
    limits: Limits = Limits()
    webhooks: Webhooks = Webhooks()
    changes: Changes = Changes()
    feedback: Feedback = Feedback()
    organisation: Organisation = Organisation()
    streams: Streams = Streams()
    retention: Retention = Retention()
    screening: Screening = Screening()
    logs: Logs = Logs()

    @property
    def embedded(self) -> bool:
        return self.database.url.startswith("sqlite")

    @property
    def namespace(self) -> str:
        """Keeps this deployment's keys apart from another's in a shared Redis."""
        return hashlib.sha256(self.database.url.encode()).hexdigest()[:12]

    @property
    def cache_mode(self) -> str:
        """The check cache in force: "redis", "host" or "off"."""
        if self.checks.cache != "auto":
            return self.checks.cache
        if self.redis_url:
            return "redis"
        # Without Redis, only an embedded service is known to run on one host.
        return "host" if self.embedded else "off"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        given = {
            name: env[name]
            for name in VARIABLES
            if name in env and (env[name].strip() or name not in UNSET_WHEN_EMPTY)
        }
        values, problems = decode(given)
        problems += disagreements(values, given)
        if problems:
            raise SettingsError(*problems)
        # Only a valid environment writes to the disk: a refused start leaves no data dir or secrets.
        place(values, _default(cls, "data_dir"))
        top = values.pop("")
        sections = typing.get_type_hints(cls, include_extras=True)
        return cls(**top, **{name: sections[name](**fields) for name, fields in values.items()})


def _default(struct: type[Struct], name: str) -> Any:
    return next(found.default for found in msgspec.structs.fields(struct) if found.name == name)
