"""Settings, read from the environment in one place (``Settings.from_env``) and passed to ``create_app``.

With no settings the service runs embedded: SQLite and generated secrets in ``CONSENT_DATA_DIR``
(default ``./var``). With a PostgreSQL URL, secrets must come from the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent_service.domain.destinations import PUBLIC_HOSTS, Destinations

SECRET_NAMES = ("CONSENT_FINGERPRINT_KEY", "CONSENT_LINK_SIGNING_KEY")
CACHE_MODES = ("auto", "redis", "host", "off")
LOG_FORMATS = ("auto", "json", "text")


class SettingsError(Exception):
    """The environment does not describe a service that can start; the message says what to set."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    data_dir: Path
    fingerprint_key: bytes
    link_signing_key: bytes
    #: Keys that no longer sign links but still verify them, so old emails' links keep working.
    retired_link_keys: tuple[bytes, ...] = ()
    redis_url: str | None = None
    default_region: str = "GB"
    #: How long a check waits for the database before it fails closed (DESIGN §4.2).
    check_timeout: float = 0.2
    #: How long any other request waits for the database before it is answered 503.
    database_timeout: float = 5.0
    public_base_url: str = "http://127.0.0.1:8000"
    #: Where checks keep answers between requests: "auto" (Redis if configured, else this host's memory
    #: when embedded, else nowhere), "redis", "host" or "off".
    check_cache: str = "auto"
    #: Seconds a cached answer lives at most, however quiet the ledger.
    check_cache_ttl: float = 5.0
    #: Seconds a worker trusts the Redis change signal between reads; each write waits this long.
    check_cache_lease: float = 0.02
    #: Requests per minute per client address on the public pages (a valid opt-out is never refused).
    public_rate_limit: int = 60
    docs: bool = True
    #: Erase people with no recorded activity for this many years (``None``: keep until asked).
    retention_inactive_years: int | None = None
    #: The organisation named as controller on consent receipts.
    org_name: str = "The organisation"
    org_contact: str = ""
    org_email: str = ""
    org_address: str = ""
    org_phone: str = ""
    org_policy_url: str = ""
    #: Provider feedback (bounces, complaints, unsubscribes). A provider left unset is not configured.
    #: SNS topics whose SES notifications are taken, and the SNS signing certificate(s) as PEM text.
    ses_topic_arns: tuple[str, ...] = ()
    ses_signing_cert: str | None = None
    #: The SendGrid Event Webhook verification key (base64 DER, as SendGrid shows it, or PEM).
    sendgrid_public_key: str | None = None
    #: The Mailgun HTTP webhook signing key.
    mailgun_signing_key: str | None = None
    #: The Redis stream the relay publishes changes to (None: no stream; the feed and webhooks remain).
    changes_stream: str | None = None
    changes_stream_maxlen: int = 100_000
    #: Seconds between relay rounds when nothing wakes it (a commit in the same worker does).
    relay_interval: float = 0.5
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 8
    webhook_backoff: float = 1.0
    webhook_backoff_max: float = 300.0
    #: Where webhooks may be sent: "public" hosts, host names, IP networks (domain/destinations.py).
    webhook_destinations: Destinations = PUBLIC_HOSTS
    #: Days a told change stays in the outbox for the pull feed (``GET /v1/changes``).
    outbox_retention_days: int = 30
    #: "json", "text", or "auto" (JSON unless stderr is a terminal).
    log_format: str = "auto"
    log_level: str = "INFO"
    #: Keep a family's unsubscribe on this host's disk (in ``data_dir``) while the database is away,
    #: and apply it when it returns; off, such an unsubscribe is refused with a "try again" page.
    optout_spool: bool = True

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def namespace(self) -> str:
        """Keeps this deployment's keys apart from another's in a shared Redis."""
        return hashlib.sha256(self.database_url.encode()).hexdigest()[:12]

    @property
    def cache_mode(self) -> str:
        """The check cache in force: "redis", "host" or "off"."""
        if self.check_cache != "auto":
            return self.check_cache
        if self.redis_url:
            return "redis"
        # Without Redis, only an embedded service is known to run on one host.
        return "host" if self.embedded else "off"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("CONSENT_DATA_DIR", "var")).resolve()
        url = env.get("CONSENT_DATABASE_URL", "")
        if url:
            keys = _secrets_from_env(env)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite+aiosqlite:///{data_dir / 'consent.db'}"
            keys = {**_secrets_from_file(data_dir / "secrets.json"), **_present(env)}
        check_cache = _choice(env.get("CONSENT_CHECK_CACHE", "auto"), "CONSENT_CHECK_CACHE", CACHE_MODES)
        if check_cache == "redis" and not env.get("CONSENT_REDIS_URL"):
            raise SettingsError("CONSENT_CHECK_CACHE=redis needs CONSENT_REDIS_URL")
        if check_cache == "host":
            # The host cache's change signal is a file in the data dir, shared by this host's workers.
            data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            database_url=_async_driver(url),
            data_dir=data_dir,
            fingerprint_key=_key(keys, "CONSENT_FINGERPRINT_KEY"),
            link_signing_key=_key(keys, "CONSENT_LINK_SIGNING_KEY"),
            retired_link_keys=tuple(
                _key({"CONSENT_LINK_RETIRED_KEYS": k.strip()}, "CONSENT_LINK_RETIRED_KEYS")
                for k in env.get("CONSENT_LINK_RETIRED_KEYS", "").split(",")
                if k.strip()
            ),
            redis_url=env.get("CONSENT_REDIS_URL") or None,
            default_region=env.get("CONSENT_DEFAULT_REGION", "GB"),
            check_timeout=float(env.get("CONSENT_CHECK_TIMEOUT", "0.2")),
            database_timeout=float(env.get("CONSENT_DATABASE_TIMEOUT", "5")),
            public_base_url=env.get("CONSENT_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            public_rate_limit=int(env.get("CONSENT_PUBLIC_RATE_LIMIT", "60")),
            check_cache=check_cache,
            check_cache_ttl=float(env.get("CONSENT_CHECK_CACHE_TTL", "5")),
            check_cache_lease=float(env.get("CONSENT_CHECK_CACHE_LEASE", "0.02")),
            docs=env.get("CONSENT_DOCS", "1") not in ("0", "false", "no"),
            retention_inactive_years=int(env["CONSENT_RETENTION_INACTIVE_YEARS"])
            if env.get("CONSENT_RETENTION_INACTIVE_YEARS")
            else None,
            org_name=env.get("CONSENT_ORG_NAME", "The organisation"),
            org_contact=env.get("CONSENT_ORG_CONTACT", ""),
            org_email=env.get("CONSENT_ORG_EMAIL", ""),
            org_address=env.get("CONSENT_ORG_ADDRESS", ""),
            org_phone=env.get("CONSENT_ORG_PHONE", ""),
            org_policy_url=env.get("CONSENT_ORG_POLICY_URL", ""),
            **_provider_feedback(env),
            changes_stream=env.get(
                "CONSENT_CHANGES_STREAM", "consent:changes" if env.get("CONSENT_REDIS_URL") else ""
            )
            or None,
            changes_stream_maxlen=int(env.get("CONSENT_CHANGES_STREAM_MAXLEN", "100000")),
            relay_interval=float(env.get("CONSENT_RELAY_INTERVAL", "0.5")),
            webhook_timeout=float(env.get("CONSENT_WEBHOOK_TIMEOUT", "5")),
            webhook_max_attempts=int(env.get("CONSENT_WEBHOOK_MAX_ATTEMPTS", "8")),
            webhook_backoff=float(env.get("CONSENT_WEBHOOK_BACKOFF", "1")),
            webhook_backoff_max=float(env.get("CONSENT_WEBHOOK_BACKOFF_MAX", "300")),
            webhook_destinations=_destinations(env.get("CONSENT_WEBHOOK_DESTINATIONS", "public")),
            outbox_retention_days=int(env.get("CONSENT_OUTBOX_RETENTION_DAYS", "30")),
            log_format=_choice(env.get("CONSENT_LOG_FORMAT", "auto"), "CONSENT_LOG_FORMAT", LOG_FORMATS),
            log_level=env.get("CONSENT_LOG_LEVEL", "INFO").upper(),
            optout_spool=_choice(env.get("CONSENT_OPTOUT_SPOOL", "on"), "CONSENT_OPTOUT_SPOOL", ("on", "off"))
            == "on",
        )


def _destinations(value: str) -> Destinations:
    try:
        return Destinations.parse(value)
    except ValueError as exc:
        raise SettingsError(f"CONSENT_WEBHOOK_DESTINATIONS: {exc}") from exc


def _choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _provider_feedback(env: Mapping[str, str]) -> dict[str, Any]:
    topics = tuple(arn.strip() for arn in env.get("CONSENT_SES_TOPIC_ARNS", "").split(",") if arn.strip())
    certificate = env.get("CONSENT_SES_SIGNING_CERT", "").strip()
    if bool(topics) != bool(certificate):
        raise SettingsError(
            "SES feedback needs both CONSENT_SES_TOPIC_ARNS and CONSENT_SES_SIGNING_CERT (the SNS signing "
            "certificate as PEM text or a path to a PEM file); set both or neither"
        )
    if certificate and "-----BEGIN" not in certificate:
        try:
            certificate = Path(certificate).read_text()
        except OSError as exc:
            raise SettingsError(
                f"CONSENT_SES_SIGNING_CERT: cannot read {certificate}: {exc.strerror}"
            ) from exc
    return {
        "ses_topic_arns": topics,
        "ses_signing_cert": _pem(certificate) or None,
        "sendgrid_public_key": _pem(env.get("CONSENT_SENDGRID_PUBLIC_KEY", "").strip()) or None,
        "mailgun_signing_key": env.get("CONSENT_MAILGUN_SIGNING_KEY", "").strip() or None,
    }


def _pem(value: str) -> str:
    """A PEM put on one line of an env file often arrives with its newlines written as ``\\n``."""
    return value.replace("\\n", "\n") if value.startswith("-----BEGIN") else value


def _async_driver(url: str) -> str:
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _present(env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in SECRET_NAMES if env.get(name)}


def _secrets_from_env(env: Mapping[str, str]) -> dict[str, str]:
    missing = [name for name in SECRET_NAMES if not env.get(name)]
    if missing:
        raise SettingsError(
            "CONSENT_DATABASE_URL is set, so secrets must come from the environment; missing: "
            f"{', '.join(missing)} (each at least 32 hex characters, for example from "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return _present(env)


def _secrets_from_file(path: Path) -> dict[str, str]:
    """Generated once on first start, readable by the service's user alone."""
    if path.exists():
        stored = json.loads(path.read_text())
        if not all(name in stored for name in SECRET_NAMES):
            raise SettingsError(f"{path} lacks one of {', '.join(SECRET_NAMES)}")
        return {name: str(stored[name]) for name in SECRET_NAMES}
    generated = {name: secrets.token_hex(32) for name in SECRET_NAMES}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(generated, handle)
    return generated


def _key(keys: Mapping[str, str], name: str) -> bytes:
    try:
        key = bytes.fromhex(keys[name])
    except ValueError as exc:
        raise SettingsError(f"{name} must be hexadecimal") from exc
    if len(key) < 16:
        raise SettingsError(f"{name} must be at least 128 bits (32 hex characters)")
    return key
