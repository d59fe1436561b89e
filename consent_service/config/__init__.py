"""Settings, read from the environment in one place (``Settings.from_env``) and passed to ``create_app``.

With no settings the service runs embedded: SQLite and generated secrets in ``CONSENT_DATA_DIR``
(default ``./var``). With a PostgreSQL URL, secrets must come from the environment.

Each setting is a field of a typed section (``settings.checks.timeout``) whose type carries its
accepted range and whose default is written beside it, once. ``VARIABLES`` says which variable fills
which field. The values are decoded once, at start, by msgspec against those types, and a bad value is
refused there with a line naming the variable, the value and what is accepted (from the same type, so
the message cannot drift from the rule): an operator learns at ``serve`` what is wrong, every bad
variable at once, rather than from a traceback or a later surprise. Nothing else in the service reads
``os.environ``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import typing
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi
from msgspec import Struct

from consent_service.config.sections import (
    Changes,
    Checks,
    Database,
    Feedback,
    Limits,
    Links,
    Logs,
    Organisation,
    RedisUrl,
    Region,
    Retention,
    Webhooks,
)
from consent_service.domain.destinations import Destinations

__all__ = [
    "STAFF_PASSWORD",
    "VARIABLES",
    "Changes",
    "Checks",
    "Database",
    "Feedback",
    "Limits",
    "Links",
    "Logs",
    "Organisation",
    "Retention",
    "Settings",
    "SettingsError",
    "Webhooks",
    "share_metrics_between_workers",
    "staff_password",
]

SECRET_NAMES = ("CONSENT_FINGERPRINT_KEY", "CONSENT_LINK_SIGNING_KEY")
#: Left empty (``NAME=`` in an env file), these are unset: embedded, the service makes its own.
UNSET_WHEN_EMPTY = ("CONSENT_DATABASE_URL", *SECRET_NAMES)
#: A new staff account's password, for scripts and tests. Not a setting: the service never needs it, so
#: it is read only by ``consent-service staff create`` and never held for the life of a server.
STAFF_PASSWORD = "CONSENT_STAFF_PASSWORD"  # noqa: S105 (the variable's name, not a password)
#: Where prometheus_client keeps each worker's figures; it reads the variable itself, in each worker.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"

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


class Settings(Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("var")
    database: Database
    fingerprint_key: bytes
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
    retention: Retention = Retention()
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
        values, problems = _decode(given)
        problems += _disagreements(values, given)
        if problems:
            raise SettingsError(*problems)
        # Only a valid environment writes to the disk: a refused start leaves no data dir or secrets.
        _place(values, _default(cls, "data_dir"))
        top = values.pop("")
        sections = typing.get_type_hints(cls, include_extras=True)
        return cls(**top, **{name: sections[name](**fields) for name, fields in values.items()})


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


def _key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError("must be hexadecimal, at least 32 characters (128 bits)")
    return key


def _retired_keys(text: str) -> tuple[bytes, ...]:
    keys = []
    for position, entry in enumerate(_items(text), start=1):
        try:
            keys.append(_key(entry))
        except ValueError as exc:
            raise ValueError(f"key {position} ({_shown(entry, secret=True)}) {exc}") from exc
    return tuple(keys)


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
    "CONSENT_FINGERPRINT_KEY": Variable("fingerprint_key", _key, secret=True),
    "CONSENT_LINK_SIGNING_KEY": Variable("links.signing_key", _key, secret=True),
    "CONSENT_LINK_RETIRED_KEYS": Variable("links.retired_keys", _retired_keys, secret=True, listed=True),
    "CONSENT_PUBLIC_BASE_URL": Variable("links.public_base_url", lambda url: url.rstrip("/")),
    "CONSENT_PUBLIC_RATE_LIMIT": Variable("limits.public_rate_limit"),
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
    "CONSENT_RETENTION_INACTIVE_YEARS": Variable("retention.inactive_years"),
    "CONSENT_ORG_NAME": Variable("organisation.name"),
    "CONSENT_ORG_CONTACT": Variable("organisation.contact"),
    "CONSENT_ORG_EMAIL": Variable("organisation.email"),
    "CONSENT_ORG_ADDRESS": Variable("organisation.address"),
    "CONSENT_ORG_PHONE": Variable("organisation.phone"),
    "CONSENT_ORG_POLICY_URL": Variable("organisation.policy_url"),
    "CONSENT_LOG_FORMAT": Variable("logs.format"),
    "CONSENT_LOG_LEVEL": Variable("logs.level", str.upper),
}


def _decode(given: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
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


def _disagreements(values: dict[str, dict[str, Any]], given: Mapping[str, str]) -> list[str]:
    """Values each fine alone that cannot go together."""
    problems = []
    if values.get("database", {}).get("url") and (
        missing := [name for name in SECRET_NAMES if name not in given]
    ):
        problems.append(
            "CONSENT_DATABASE_URL is set, so secrets must come from the environment; missing: "
            f"{', '.join(missing)} (each at least 32 hex characters, for example from "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    if values.get("checks", {}).get("cache") == "redis" and not values.get("", {}).get("redis_url"):
        problems.append("CONSENT_CHECK_CACHE=redis needs CONSENT_REDIS_URL")
    feedback = values.get("feedback", {})
    if bool(feedback.get("ses_topic_arns")) != bool(feedback.get("ses_signing_cert")):
        problems.append(
            "SES feedback needs both CONSENT_SES_TOPIC_ARNS and CONSENT_SES_SIGNING_CERT (the SNS "
            "signing certificate as PEM text or a path to a PEM file); set both or neither"
        )
    return problems


def _place(values: dict[str, dict[str, Any]], default_data_dir: Path) -> None:
    """The data dir, made when something lives there; embedded, the database and secrets in it."""
    top = values.setdefault("", {})
    database = values.setdefault("database", {})
    data_dir = top["data_dir"] = Path(top.get("data_dir", default_data_dir)).resolve()
    # Embedded, the database and secrets live there; the host cache's change signal is a file there too,
    # shared by this host's workers.
    if "url" not in database or values.get("checks", {}).get("cache") == "host":
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(f"CONSENT_DATA_DIR={data_dir}: cannot make it: {exc.strerror}") from exc
    if "url" not in database:
        database["url"] = f"sqlite+aiosqlite:///{data_dir / 'consent.db'}"
        stored = _secrets_from_file(data_dir / "secrets.json")
        # A key given in the environment wins over the generated one.
        top.setdefault("fingerprint_key", stored["CONSENT_FINGERPRINT_KEY"])
        values.setdefault("links", {}).setdefault("signing_key", stored["CONSENT_LINK_SIGNING_KEY"])


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


def _default(struct: type[Struct], name: str) -> Any:
    return next(found.default for found in msgspec.structs.fields(struct) if found.name == name)


def _secrets_from_file(path: Path) -> dict[str, bytes]:
    """Generated once on first start, readable by the service's user alone."""
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{path} cannot be read as JSON: {exc}") from exc
        if not isinstance(stored, dict) or not all(name in stored for name in SECRET_NAMES):
            raise SettingsError(f"{path} lacks one of {', '.join(SECRET_NAMES)}")
    else:
        stored = {name: secrets.token_hex(32) for name in SECRET_NAMES}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(stored, handle)
    keys: dict[str, bytes] = {}
    for name in SECRET_NAMES:
        try:
            keys[name] = _key(str(stored[name]))
        except ValueError as exc:
            raise SettingsError(f"{name} in {path}: {exc}") from exc
    return keys


def staff_password(environ: Mapping[str, str] | None = None) -> str | None:
    """``CONSENT_STAFF_PASSWORD`` if set: the password ``staff create`` gives the new account."""
    return (os.environ if environ is None else environ).get(STAFF_PASSWORD) or None


def share_metrics_between_workers(
    settings: Settings, environ: MutableMapping[str, str] | None = None
) -> None:
    """With several workers, each keeps its metrics in files that ``/metrics`` adds up.

    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept; else ``<data dir>/metrics``, emptied of a
    previous run's figures, is named in this process's environment for the workers it starts to inherit.
    """
    env = os.environ if environ is None else environ
    if METRICS_DIR in env:
        return
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    env[METRICS_DIR] = str(directory)


def keep_worker_memory_compact(environ: MutableMapping[str, str] | None = None) -> None:
    """Two glibc memory arenas per worker, unless the operator chose a number.

    glibc gives each thread that allocates an arena of its own (up to eight per core) and rarely hands
    one back; with the SQLite driver's threads a worker's resident memory crept up under load. Two
    arenas kept it flat in the soak (docs/RELIABILITY.md). glibc reads this when a process starts, so
    it is set here, in the serving process, for the workers it starts to inherit.
    """
    env = os.environ if environ is None else environ
    env.setdefault("MALLOC_ARENA_MAX", "2")
