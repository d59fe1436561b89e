"""How the environment becomes settings, and what an operator is told when it cannot.

``VARIABLES`` is the one table of the ``CONSENT_*`` variables the service reads and the field each
fills. A value is decoded by msgspec against that field's type (``sections.py``), and a bad one is
refused with a line naming the variable, the value (unless it is a key or a URL that may carry a
password) and what is accepted, worded from the same type so the message cannot drift from the rule.
Values that are each fine but cannot go together are refused here too, so every problem is found
before anything is written.
"""

from __future__ import annotations

import ipaddress
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec
import msgspec.inspect as mi

from consent_service.domain.destinations import Destinations

SECRET_NAMES = ("CONSENT_FINGERPRINT_KEY", "CONSENT_LINK_SIGNING_KEY", "CONSENT_ENCRYPTION_KEY")
#: Left empty (``NAME=`` in an env file), these are unset: embedded, the service makes its own.
UNSET_WHEN_EMPTY = ("CONSENT_DATABASE_URL", *SECRET_NAMES)

#: What a switch (``CONSENT_DOCS``, ``CONSENT_OPTOUT_SPOOL``) may be set to, in any case.
SWITCH = {
    "on": True,
    "off": False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
}


class SettingsError(Exception):
    """The environment does not describe a service that can start; each problem says what to set."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def report(self) -> str:
        """The problems as the command prints them, one line each."""
        return "\n".join(f"consent-service: {problem}" for problem in self.problems)


@dataclass(frozen=True)
class Variable:
    """Which field a variable fills (``section.field``, or a field of ``Settings`` itself), and how its
    text becomes the value msgspec then holds to the field's type. ``read`` raises ``ValueError`` saying
    what the value must be when the type alone cannot say it."""

    path: str
    read: Callable[[str], Any] = str
    #: The value is not repeated in a refusal (keys, and URLs that may carry a password).
    secret: bool = False
    #: A comma-separated list: a refusal names the bad entry rather than repeating the whole value.
    listed: bool = False

    @property
    def section(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @cached_property
    def type(self) -> Any:
        # Settings reads this table, so the table looks Settings up when a type is first asked for.
        from consent_service.config.sections import Settings

        owner = typing.get_type_hints(Settings)[self.section] if self.section else Settings
        return typing.get_type_hints(owner, include_extras=True)[self.name]

    def decode(self, text: str) -> Any:
        stripped = text.strip()
        if not stripped and _optional(self.type):
            return None
        return msgspec.convert(self.read(stripped), self.type, strict=False)

    def refusal(self, variable: str, text: str, error: ValueError) -> str:
        # msgspec's own words are about JSON types; the field's type says it for an operator.
        problem = _accepted(self.type) if isinstance(error, msgspec.ValidationError) else str(error)
        if self.listed:
            return f"{variable}: {problem}"
        return f"{variable}={_shown(text, self.secret)}: {problem}"


def _switch(text: str) -> bool | str:
    """A known word, else the text itself for msgspec to refuse as not a switch."""
    return SWITCH.get(text.lower(), text)


def _async_driver(url: str) -> str:
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


#: Hosts only this machine (or an in-process test client, which calls itself ``testserver``) reaches:
#: links naming them are development links, so plain ``http://`` is allowed for them.
DEVELOPMENT_HOSTS = frozenset({"localhost", "testserver"})


def is_development_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in DEVELOPMENT_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_base_url(url: str) -> str:
    """Families' links and the one-click unsubscribe POST (RFC 8058 §3.1: one HTTPS URI) travel over
    HTTPS; ``http://`` is development, so only for a loopback or test host."""
    url = url.rstrip("/")
    if url.lower().startswith("http://"):
        host = urlsplit(url).hostname or ""
        if not is_development_host(host):
            raise ValueError(
                "must be an https:// URL (families' links and RFC 8058 one-click unsubscribes travel "
                "over HTTPS); http:// is accepted only for development: localhost, *.localhost, a "
                "loopback address (127.0.0.0/8, ::1) or testserver"
            )
    return url


def hex_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError("must be hexadecimal, at least 32 characters (128 bits)")
    return key


def aes_256_key(text: str) -> bytes:
    """Exactly 256 bits: AES-256 takes no other length, and a shorter key is not padded into one."""
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError("must be hexadecimal, exactly 64 characters (256 bits)")
    return key


def _retired_keys(text: str) -> tuple[bytes, ...]:
    keys = []
    for position, entry in enumerate(_items(text), start=1):
        try:
            keys.append(hex_key(entry))
        except ValueError as exc:
            raise ValueError(f"key {position} ({_shown(entry, secret=True)}) {exc}") from exc
    return tuple(keys)


def _networks(text: str) -> tuple[str, ...]:
    """IP addresses or networks, each kept in CIDR form (``10.0.0.7`` is ``10.0.0.7/32``)."""
    networks = []
    for entry in _items(text):
        try:
            networks.append(str(ipaddress.ip_network(entry.strip("[]"), strict=False)))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _certificate(text: str) -> str:
    """PEM text, or the path of a PEM file."""
    if "-----BEGIN" not in text:
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise ValueError(f"cannot read the file: {exc.strerror}") from exc
    return _pem(text)


def _pem(value: str) -> str:
    """A PEM put on one line of an env file often arrives with its newlines written as ``\\n``."""
    return value.replace("\\n", "\n") if value.startswith("-----BEGIN") else value


#: Every variable the service reads, and the field it fills; the field's type says what is accepted.
VARIABLES: dict[str, Variable] = {
    "CONSENT_DATA_DIR": Variable("data_dir", Path),
    "CONSENT_DATABASE_URL": Variable("database.url", _async_driver, secret=True),
    "CONSENT_DATABASE_TIMEOUT": Variable("database.timeout"),
    "CONSENT_LEDGER_CHECKPOINT_EVERY": Variable("database.checkpoint_every"),
    "CONSENT_REPLICA_URL": Variable("database.replica_url", _async_driver, secret=True),
    "CONSENT_FINGERPRINT_KEY": Variable("fingerprint_key", hex_key, secret=True),
    "CONSENT_LINK_SIGNING_KEY": Variable("links.signing_key", hex_key, secret=True),
    "CONSENT_ENCRYPTION_KEY": Variable("encryption_key", aes_256_key, secret=True),
    "CONSENT_LINK_RETIRED_KEYS": Variable("links.retired_keys", _retired_keys, secret=True, listed=True),
    "CONSENT_PUBLIC_BASE_URL": Variable("links.public_base_url", public_base_url),
    "CONSENT_UNSUBSCRIBE_MAILTO": Variable("links.unsubscribe_mailto"),
    "CONSENT_PUBLIC_RATE_LIMIT": Variable("limits.public_rate_limit"),
    "CONSENT_TRUSTED_PROXIES": Variable("limits.trusted_proxies", _networks, listed=True),
    "CONSENT_REDIS_URL": Variable("redis_url", secret=True),
    "CONSENT_DEFAULT_REGION": Variable("default_region"),
    "CONSENT_CHECK_TIMEOUT": Variable("checks.timeout"),
    "CONSENT_CHECK_CACHE": Variable("checks.cache"),
    "CONSENT_CHECK_CACHE_TTL": Variable("checks.cache_ttl"),
    "CONSENT_CHECK_CACHE_LEASE": Variable("checks.cache_lease"),
    "CONSENT_OPTOUT_SPOOL": Variable("optout_spool", _switch),
    "CONSENT_DOCS": Variable("docs", _switch),
    "CONSENT_CHANGES_STREAM": Variable("changes.stream"),
    "CONSENT_CHANGES_STREAM_MAXLEN": Variable("changes.stream_maxlen"),
    "CONSENT_RELAY_INTERVAL": Variable("changes.relay_interval"),
    "CONSENT_OUTBOX_RETENTION_DAYS": Variable("changes.outbox_retention_days"),
    "CONSENT_WEBHOOK_TIMEOUT": Variable("webhooks.timeout"),
    "CONSENT_WEBHOOK_MAX_ATTEMPTS": Variable("webhooks.max_attempts"),
    "CONSENT_WEBHOOK_BACKOFF": Variable("webhooks.backoff"),
    "CONSENT_WEBHOOK_BACKOFF_MAX": Variable("webhooks.backoff_max"),
    "CONSENT_WEBHOOK_DESTINATIONS": Variable("webhooks.destinations", Destinations.parse, listed=True),
    "CONSENT_SES_TOPIC_ARNS": Variable("feedback.ses_topic_arns", _items),
    "CONSENT_SES_SIGNING_CERT": Variable("feedback.ses_signing_cert", _certificate),
    "CONSENT_SENDGRID_PUBLIC_KEY": Variable("feedback.sendgrid_public_key", _pem),
    "CONSENT_MAILGUN_SIGNING_KEY": Variable("feedback.mailgun_signing_key", secret=True),
    "CONSENT_NOTIFY_CALLBACK_TOKEN": Variable("feedback.notify_callback_token", secret=True),
    "CONSENT_RETENTION_INACTIVE_YEARS": Variable("retention.inactive_years"),
    "CONSENT_FPS_DEADLINE_DAYS": Variable("screening.fps_deadline_days"),
    "CONSENT_RETENTION_IDEMPOTENCY_DAYS": Variable("retention.idempotency_days"),
    "CONSENT_ORG_TYPE": Variable("organisation.type", str.lower),
    "CONSENT_ORG_NAME": Variable("organisation.name"),
    "CONSENT_ORG_CONTACT": Variable("organisation.contact"),
    "CONSENT_ORG_EMAIL": Variable("organisation.email"),
    "CONSENT_ORG_ADDRESS": Variable("organisation.address"),
    "CONSENT_ORG_PHONE": Variable("organisation.phone"),
    "CONSENT_ORG_POLICY_URL": Variable("organisation.policy_url"),
    "CONSENT_STREAM_MARKETING_FROM": Variable("streams.marketing_from"),
    "CONSENT_STREAM_MARKETING_LIST_ID": Variable("streams.marketing_list_id"),
    "CONSENT_STREAM_ADMINISTRATIVE_FROM": Variable("streams.administrative_from"),
    "CONSENT_STREAM_ADMINISTRATIVE_LIST_ID": Variable("streams.administrative_list_id"),
    "CONSENT_STREAM_PUBLIC_TASK_FROM": Variable("streams.public_task_from"),
    "CONSENT_STREAM_PUBLIC_TASK_LIST_ID": Variable("streams.public_task_list_id"),
    "CONSENT_LOG_FORMAT": Variable("logs.format"),
    "CONSENT_LOG_LEVEL": Variable("logs.level", str.upper),
}


def decode(given: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each given variable's value, by section and field, and a refusal for every bad one."""
    values: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, text in given.items():
        variable = VARIABLES[name]
        try:
            value = variable.decode(text)
        except ValueError as exc:
            problems.append(variable.refusal(name, text, exc))
        else:
            values.setdefault(variable.section, {})[variable.name] = value
    return values, problems


def disagreements(values: dict[str, dict[str, Any]], given: Mapping[str, str]) -> list[str]:
    """Values each fine alone that cannot go together."""
    problems = []
    if values.get("database", {}).get("url") and (
        missing := [name for name in SECRET_NAMES if name not in given]
    ):
        problems.append(
            "CONSENT_DATABASE_URL is set, so secrets must come from the environment; missing: "
            f"{', '.join(missing)} (each at least 32 hex characters, for example from "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`; CONSENT_ENCRYPTION_KEY exactly 64)"
        )
    if values.get("checks", {}).get("cache") == "redis" and not values.get("", {}).get("redis_url"):
        problems.append("CONSENT_CHECK_CACHE=redis needs CONSENT_REDIS_URL")
    if values.get("database", {}).get("replica_url"):
        if not str(values["database"].get("url") or "").startswith("postgresql"):
            problems.append(
                "CONSENT_REPLICA_URL is a PostgreSQL standby: CONSENT_DATABASE_URL must be its primary"
            )
        if not values.get("", {}).get("redis_url"):
            problems.append(
                "CONSENT_REPLICA_URL needs CONSENT_REDIS_URL: every worker must share the replica watermark"
            )
    feedback = values.get("feedback", {})
    if bool(feedback.get("ses_topic_arns")) != bool(feedback.get("ses_signing_cert")):
        problems.append(
            "SES feedback needs both CONSENT_SES_TOPIC_ARNS and CONSENT_SES_SIGNING_CERT (the SNS "
            "signing certificate as PEM text or a path to a PEM file); set both or neither"
        )
    return problems


def _accepted(hint: Any) -> str:
    """What a type accepts, in words, from the constraints written on it."""
    if typing.get_origin(hint) is Literal:
        return f"must be one of {', '.join(typing.get_args(hint))}"
    if _optional(hint):
        (inner,) = (member for member in typing.get_args(hint) if member is not type(None))
        return f"{_accepted(inner)}, or empty for none"
    info = mi.type_info(hint)
    description = ""
    if isinstance(info, mi.Metadata):
        description = (info.extra_json_schema or {}).get("description", "")
        info = info.type
    if isinstance(info, mi.BoolType):
        return f"must be one of {', '.join(SWITCH)}"
    if isinstance(info, mi.IntType | mi.FloatType):
        kind = "a whole number" if isinstance(info, mi.IntType) else "a number"
        bounds = [
            f"{sign} {limit:g}"
            for sign, limit in ((">", info.gt), (">=", info.ge), ("<", info.lt), ("<=", info.le))
            if limit is not None
        ]
        return " ".join([f"must be {kind} of {description}", " and ".join(bounds)]).strip()
    return f"must be {description or 'text'}"


def _optional(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def _shown(text: str, secret: bool) -> str:
    if secret:
        return f"<{len(text)} character{'' if len(text) == 1 else 's'}, not shown>"
    if len(text) > 60:
        text = text[:57] + "..."
    return text if text and text.isprintable() and " " not in text else repr(text)
