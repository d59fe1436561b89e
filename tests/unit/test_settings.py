"""Settings: the embedded default makes its own secrets once; production must be given them; a bad value
is refused at start, by name, saying what is accepted."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Literal

import pytest

from consent_service.api.app import app_from_env
from consent_service.config import (
    SECRET_NAMES,
    VARIABLES,
    Checks,
    Limits,
    Logs,
    Settings,
    SettingsError,
    mint_links_for,
    share_metrics_between_workers,
    staff_password,
)

KEY = "ab" * 32


def test_embedded_default_generates_secrets_once_readable_by_the_owner_alone(tmp_path: Path) -> None:
    first = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert first.embedded and first.database.url == f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}"
    secrets_file = tmp_path / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    again = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert again.fingerprint_key == first.fingerprint_key and len(first.fingerprint_key) == 32


def test_postgresql_without_secrets_refuses_naming_what_is_missing(tmp_path: Path) -> None:
    environ = {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_DATABASE_URL": "postgresql://db/consent"}
    with pytest.raises(SettingsError, match="CONSENT_FINGERPRINT_KEY, CONSENT_LINK_SIGNING_KEY"):
        Settings.from_env(environ)
    with pytest.raises(SettingsError, match="missing: CONSENT_LINK_SIGNING_KEY"):
        Settings.from_env({**environ, "CONSENT_FINGERPRINT_KEY": KEY})
    assert not (tmp_path / "secrets.json").exists()


def test_an_encryption_key_must_be_exactly_256_bits(tmp_path: Path) -> None:
    environ = {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_ENCRYPTION_KEY": "ab" * 16}
    refusal = r"CONSENT_ENCRYPTION_KEY=<32 characters, not shown>: .*exactly 64"
    with pytest.raises(SettingsError, match=refusal):
        Settings.from_env(environ)
    assert Settings.from_env({**environ, "CONSENT_ENCRYPTION_KEY": KEY}).encryption_key == bytes.fromhex(KEY)


def test_a_secrets_file_from_before_encryption_gains_a_key_once_and_keeps_the_others(tmp_path: Path) -> None:
    older = {"CONSENT_FINGERPRINT_KEY": KEY, "CONSENT_LINK_SIGNING_KEY": "cd" * 32}
    (tmp_path / "secrets.json").write_text(json.dumps(older))
    first = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored.items() >= older.items() and len(bytes.fromhex(stored["CONSENT_ENCRYPTION_KEY"])) == 32
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    again = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert again.encryption_key == first.encryption_key == bytes.fromhex(stored["CONSENT_ENCRYPTION_KEY"])
    assert first.fingerprint_key == bytes.fromhex(KEY)


def test_postgresql_with_secrets_uses_the_async_driver(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": "postgresql://postgres@db:5432/consent",
            "CONSENT_FINGERPRINT_KEY": KEY,
            "CONSENT_LINK_SIGNING_KEY": KEY,
            "CONSENT_ENCRYPTION_KEY": KEY,
            "CONSENT_REDIS_URL": "redis://cache:6379/0",
        }
    )
    assert settings.database.url == "postgresql+asyncpg://postgres@db:5432/consent"
    assert settings.redis_url == "redis://cache:6379/0" and not settings.embedded


@pytest.mark.parametrize("bad", ["not-hex", "abcd"])
def test_a_weak_or_malformed_secret_is_refused(tmp_path: Path, bad: str) -> None:
    environ = {
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_DATABASE_URL": "postgresql://db/consent",
        "CONSENT_FINGERPRINT_KEY": bad,
        "CONSENT_LINK_SIGNING_KEY": KEY,
        "CONSENT_ENCRYPTION_KEY": KEY,
    }
    with pytest.raises(SettingsError, match="CONSENT_FINGERPRINT_KEY"):
        Settings.from_env(environ)


def test_a_redis_cache_without_redis_is_refused_not_silently_off(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CONSENT_CHECK_CACHE=redis needs CONSENT_REDIS_URL"):
        Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_CHECK_CACHE": "redis"})


def test_a_replica_is_a_postgresql_standby_beside_its_primary_and_redis(tmp_path: Path) -> None:
    production = {
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_DATABASE_URL": "postgresql://postgres@db:5432/consent",
        "CONSENT_REDIS_URL": "redis://cache:6379/0",
        **dict.fromkeys(SECRET_NAMES, KEY),
    }
    assert Settings.from_env(production).database.replica_url is None
    assert Settings.from_env(production | {"CONSENT_REPLICA_URL": ""}).database.replica_url is None
    standby = {"CONSENT_REPLICA_URL": "postgresql://postgres@standby:5432/consent"}
    settings = Settings.from_env(production | standby)
    assert settings.database.replica_url == "postgresql+asyncpg://postgres@standby:5432/consent"

    without_redis = {k: v for k, v in production.items() if k != "CONSENT_REDIS_URL"}
    with pytest.raises(SettingsError, match="CONSENT_REPLICA_URL needs CONSENT_REDIS_URL"):
        Settings.from_env(without_redis | standby)
    embedded = {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_REDIS_URL": "redis://cache:6379/0"}
    with pytest.raises(SettingsError, match="CONSENT_DATABASE_URL must be its primary"):
        Settings.from_env(embedded | standby)
    with pytest.raises(
        SettingsError, match=r"CONSENT_REPLICA_URL=<\d+ characters, not shown>: must be a postgres"
    ):
        Settings.from_env(production | {"CONSENT_REPLICA_URL": "sqlite:///standby.db"})


def test_a_host_cache_beside_postgresql_makes_its_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-yet"
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(data_dir),
            "CONSENT_DATABASE_URL": "postgresql://postgres@db:5432/consent",
            "CONSENT_FINGERPRINT_KEY": KEY,
            "CONSENT_LINK_SIGNING_KEY": KEY,
            "CONSENT_ENCRYPTION_KEY": KEY,
            "CONSENT_CHECK_CACHE": "host",
        }
    )
    assert settings.cache_mode == "host" and data_dir.is_dir()


def test_webhooks_go_to_public_hosts_unless_the_organisation_lists_its_own(tmp_path: Path) -> None:
    default = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert default.webhooks.destinations.refusal("http://10.0.0.1/") is not None
    internal = Settings.from_env(
        {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_WEBHOOK_DESTINATIONS": "crm.internal,10.0.0.0/8"}
    )
    assert internal.webhooks.destinations.refusal("http://10.0.0.1/") is None
    assert internal.webhooks.destinations.refusal("https://crm.example.org/") is not None
    with pytest.raises(SettingsError, match=r"CONSENT_WEBHOOK_DESTINATIONS: '10\.0\.0\.0/40'"):
        Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_WEBHOOK_DESTINATIONS": "10.0.0.0/40"})


# --- Every bad value refused at start, by name, with what is accepted --------------------------------

SECONDS = "must be a number of seconds > 0"
#: Each numeric setting and what its refusal says is accepted.
NUMBERS = {
    "CONSENT_CHECK_TIMEOUT": SECONDS,
    "CONSENT_DATABASE_TIMEOUT": SECONDS,
    "CONSENT_LEDGER_CHECKPOINT_EVERY": SECONDS,
    "CONSENT_CHECK_CACHE_TTL": SECONDS,
    "CONSENT_CHECK_CACHE_LEASE": "must be a number of seconds >= 0",
    "CONSENT_RELAY_INTERVAL": SECONDS,
    "CONSENT_WEBHOOK_TIMEOUT": SECONDS,
    "CONSENT_WEBHOOK_BACKOFF": SECONDS,
    "CONSENT_WEBHOOK_BACKOFF_MAX": SECONDS,
    "CONSENT_PUBLIC_RATE_LIMIT": "must be a whole number of requests per minute >= 1",
    "CONSENT_WEBHOOK_MAX_ATTEMPTS": "must be a whole number of tries >= 1",
    "CONSENT_CHANGES_STREAM_MAXLEN": "must be a whole number of entries >= 1",
    "CONSENT_OUTBOX_RETENTION_DAYS": "must be a whole number of days >= 1",
    "CONSENT_FPS_DEADLINE_DAYS": "must be a whole number of days >= 1",
    "CONSENT_RETENTION_INACTIVE_YEARS": "must be a whole number of years >= 1, or empty for none",
    "CONSENT_RETENTION_IDEMPOTENCY_DAYS": "must be a whole number of days >= 1",
}
SWITCH = "must be one of on, off, 1, 0, true, false, yes, no"
#: Each setting with a fixed set of values and what its refusal lists.
CHOICES = {
    "CONSENT_CHECK_CACHE": "must be one of auto, redis, host, off",
    "CONSENT_LOG_FORMAT": "must be one of auto, json, text",
    "CONSENT_LOG_LEVEL": "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "CONSENT_OPTOUT_SPOOL": SWITCH,
    "CONSENT_DOCS": SWITCH,
    "CONSENT_ORG_TYPE": "must be one of charity, public_authority, company",
}


def _refused_numbers() -> list[tuple[str, str, str]]:
    """Negative, zero (below zero where zero is allowed), not a number, a unit written in."""
    cases = []
    for name, accepted in NUMBERS.items():
        zero = "-0.5" if accepted.endswith(">= 0") else "0"
        whole = ["1.5", "60/min"] if "whole" in accepted else []
        cases += [
            (name, value, f"{name}={value}: {accepted}") for value in ["-1", zero, "soon", "nan", *whole]
        ]
        cases.append((name, "5 s", f"{name}='5 s': {accepted}"))
    return cases


BAD = [
    ("CONSENT_CHECK_TIMEOUT", "-1", "CONSENT_CHECK_TIMEOUT=-1: must be a number of seconds > 0"),
    (
        "CONSENT_PUBLIC_RATE_LIMIT",
        "60/min",
        "CONSENT_PUBLIC_RATE_LIMIT=60/min: must be a whole number of requests per minute >= 1",
    ),
    (
        "CONSENT_LOG_LEVEL",
        "verbose",
        "CONSENT_LOG_LEVEL=verbose: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ),
    *_refused_numbers(),
    *(
        (name, value, f"{name}={shown}: {accepted}")
        for name, accepted in CHOICES.items()
        for value, shown in [("verbose", "verbose"), ("", "''"), ("auto-ish", "auto-ish")]
    ),
    (
        "CONSENT_DEFAULT_REGION",
        "gb",
        "CONSENT_DEFAULT_REGION=gb: must be a two-letter region code such as GB",
    ),
    (
        "CONSENT_DEFAULT_REGION",
        "GBR",
        "CONSENT_DEFAULT_REGION=GBR: must be a two-letter region code such as GB",
    ),
    (
        "CONSENT_PUBLIC_BASE_URL",
        "consent.example.org",
        "CONSENT_PUBLIC_BASE_URL=consent.example.org: must be an http:// or https:// URL",
    ),
    (
        "CONSENT_PUBLIC_BASE_URL",
        "http://consent.example.org",
        "CONSENT_PUBLIC_BASE_URL=http://consent.example.org: must be an https:// URL (families' links "
        "and RFC 8058 one-click unsubscribes travel over HTTPS); http:// is accepted only for "
        "development: localhost, *.localhost, a loopback address (127.0.0.0/8, ::1) or testserver",
    ),
    (
        "CONSENT_UNSUBSCRIBE_MAILTO",
        "mailto:unsubscribe@example.org",
        "CONSENT_UNSUBSCRIBE_MAILTO=mailto:unsubscribe@example.org: must be an email address such as "
        "unsubscribe@example.org, or empty for none",
    ),
    (
        "CONSENT_STREAM_MARKETING_LIST_ID",
        "news.example.org",
        "CONSENT_STREAM_MARKETING_LIST_ID=news.example.org: must be a List-Id (RFC 2919) such as "
        "<news.example.org>, a description before it optional, or empty for none",
    ),
    (
        "CONSENT_STREAM_ADMINISTRATIVE_FROM",
        "Appointments",
        "CONSENT_STREAM_ADMINISTRATIVE_FROM=Appointments: must be an address such as news@example.org "
        'or "Name <news@example.org>", or empty for none',
    ),
    (
        "CONSENT_WEBHOOK_DESTINATIONS",
        "public,10.0.0.0/40",
        "CONSENT_WEBHOOK_DESTINATIONS: '10.0.0.0/40' is not an IP address or network",
    ),
    (
        "CONSENT_TRUSTED_PROXIES",
        "10.0.0.0/8, proxy.internal",
        "CONSENT_TRUSTED_PROXIES: 'proxy.internal' is not an IP address or network",
    ),
    (
        "CONSENT_TRUSTED_PROXIES",
        "10.0.0.300",
        "CONSENT_TRUSTED_PROXIES: '10.0.0.300' is not an IP address or network",
    ),
]


def test_trusted_proxies_are_addresses_or_networks_kept_in_cidr_form(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,[::1]"}
    )
    assert settings.limits.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "::1/128")
    assert Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)}).limits.trusted_proxies == ()


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_is_refused_naming_the_variable_and_what_is_accepted(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    data_dir = tmp_path / "var"
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"CONSENT_DATA_DIR": str(data_dir), name: value})
    assert str(refused.value) == message
    assert not data_dir.exists(), "a refused start writes nothing"


def test_every_number_and_choice_setting_is_in_the_table_above() -> None:
    numbers = {
        name
        for name, variable in VARIABLES.items()
        if any(kind in (int, float) for kind in _kinds(variable.type))
    }
    choices = {
        name
        for name, variable in VARIABLES.items()
        if any(kind is bool or typing.get_origin(kind) is Literal for kind in _kinds(variable.type))
    }
    assert (numbers, choices) == (set(NUMBERS), set(CHOICES))


def _kinds(hint: object) -> list[object]:
    """The types a field may hold, without their constraints and without None."""
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return [
        typing.get_args(member)[0] if typing.get_origin(member) is Annotated else member
        for member in members
        if member is not type(None)
    ]


def test_secrets_and_urls_are_named_but_never_repeated(tmp_path: Path) -> None:
    environ = {
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_DATABASE_URL": "mysql://consent:hunter2@db/consent",
        "CONSENT_REDIS_URL": "cache:6379?password=hunter2",
        "CONSENT_FINGERPRINT_KEY": "hunter2",
        "CONSENT_LINK_SIGNING_KEY": KEY,
        "CONSENT_ENCRYPTION_KEY": KEY,
        "CONSENT_LINK_RETIRED_KEYS": f"{KEY}, hunter2",
    }
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ)
    assert "hunter2" not in str(refused.value)
    hexadecimal = "must be hexadecimal, at least 32 characters (128 bits)"
    assert refused.value.problems == (
        "CONSENT_DATABASE_URL=<34 characters, not shown>: "
        "must be a postgresql://, postgres:// or sqlite:/// URL",
        f"CONSENT_FINGERPRINT_KEY=<7 characters, not shown>: {hexadecimal}",
        f"CONSENT_LINK_RETIRED_KEYS: key 2 (<7 characters, not shown>) {hexadecimal}",
        "CONSENT_REDIS_URL=<27 characters, not shown>: "
        "must be a redis://, rediss:// or unix:// URL, or empty for none",
    )


def test_every_bad_variable_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            {
                "CONSENT_DATA_DIR": str(tmp_path),
                "CONSENT_CHECK_TIMEOUT": "-1",
                "CONSENT_PUBLIC_RATE_LIMIT": "60/min",
                "CONSENT_LOG_LEVEL": "verbose",
                "CONSENT_CHECK_CACHE": "redis",
            }
        )
    assert [problem.split("=")[0].split(" ")[0] for problem in refused.value.problems] == [
        "CONSENT_PUBLIC_RATE_LIMIT",
        "CONSENT_CHECK_TIMEOUT",
        "CONSENT_LOG_LEVEL",
        "CONSENT_CHECK_CACHE",
    ]
    assert (
        refused.value.report().splitlines()[-1]
        == "consent-service: CONSENT_CHECK_CACHE=redis needs CONSENT_REDIS_URL"
    )


def test_good_values_at_the_edges_are_taken(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_CHECK_CACHE_LEASE": "0",
            "CONSENT_CHECK_TIMEOUT": " 0.05 ",
            "CONSENT_PUBLIC_RATE_LIMIT": "1",
            "CONSENT_LOG_LEVEL": "debug",
            "CONSENT_ORG_TYPE": "Public_Authority",
            "CONSENT_DOCS": "No",
            "CONSENT_OPTOUT_SPOOL": "off",
            "CONSENT_RETENTION_INACTIVE_YEARS": "",
            "CONSENT_CHANGES_STREAM": "",
            "CONSENT_PUBLIC_BASE_URL": "https://consent.example.org/",
            "CONSENT_DATABASE_URL": "",
            "CONSENT_LINK_SIGNING_KEY": "",
        }
    )
    assert (settings.checks.cache_lease, settings.checks.timeout, settings.limits.public_rate_limit) == (
        0,
        0.05,
        1,
    )
    assert (settings.logs.level, settings.docs, settings.optout_spool) == ("DEBUG", False, False)
    assert settings.organisation.type == "public_authority"
    assert settings.retention.inactive_years is None and settings.changes.stream is None
    assert settings.links.public_base_url == "https://consent.example.org" and settings.embedded
    assert len(settings.links.signing_key) == 32


def test_each_default_is_the_one_the_readme_gives(tmp_path: Path) -> None:
    settings = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert (settings.checks, settings.limits, settings.logs) == (Checks(), Limits(), Logs())
    assert (settings.checks.timeout, settings.checks.cache, settings.checks.cache_ttl) == (0.2, "auto", 5)
    assert (settings.database.timeout, settings.limits.public_rate_limit, settings.default_region) == (
        5,
        60,
        "GB",
    )
    assert (settings.webhooks.timeout, settings.webhooks.max_attempts) == (5, 8)
    assert (settings.webhooks.backoff, settings.webhooks.backoff_max) == (1, 300)
    assert (settings.changes.stream_maxlen, settings.changes.relay_interval) == (100_000, 0.5)
    assert (settings.changes.outbox_retention_days, settings.organisation.name) == (30, "The organisation")
    assert settings.organisation.type == "charity"
    assert (settings.logs.format, settings.logs.level, settings.docs, settings.optout_spool) == (
        "auto",
        "INFO",
        True,
        True,
    )


@pytest.mark.parametrize("name", ["CONSENT_CHECK_TIMEOUT", "CONSENT_PUBLIC_RATE_LIMIT", "CONSENT_LOG_LEVEL"])
def test_serve_with_a_bad_value_prints_one_line_and_starts_nothing(tmp_path: Path, name: str) -> None:
    value, message = next((value, message) for bad, value, message in BAD if bad == name)
    environ = {key: text for key, text in os.environ.items() if not key.startswith("CONSENT_")}
    environ |= {"CONSENT_DATA_DIR": str(tmp_path / "var"), name: value}
    done = subprocess.run(
        [sys.executable, "-m", "consent_service.cli", "serve", "--port", "0"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"consent-service: {message}\n")
    assert not (tmp_path / "var").exists()


def test_a_server_started_on_the_app_factory_by_hand_gets_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CONSENT_LOG_LEVEL", "verbose")
    with pytest.raises(SystemExit) as stopped:
        app_from_env()
    assert str(stopped.value) == (
        "consent-service: CONSENT_LOG_LEVEL=verbose: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


# --- What the command line reads besides the settings ------------------------------------------------


def test_the_staff_password_comes_from_the_environment_or_not_at_all() -> None:
    assert staff_password({"CONSENT_STAFF_PASSWORD": "correct horse"}) == "correct horse"
    assert staff_password({"CONSENT_STAFF_PASSWORD": ""}) is None and staff_password({}) is None


def test_workers_share_their_metrics_in_the_data_dir_unless_told_where(tmp_path: Path) -> None:
    settings = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_1.db").write_text("a previous run's figures")
    environ: dict[str, str] = {}
    share_metrics_between_workers(settings, environ)
    assert environ == {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    assert list((tmp_path / "metrics").iterdir()) == []
    theirs = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "theirs")}
    share_metrics_between_workers(settings, theirs)
    assert theirs == {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "theirs")}


@pytest.mark.parametrize(
    "url",
    [
        "https://consent.example.org",
        "http://localhost:8000",
        "http://consent.localhost",
        "http://127.0.0.2:8000",
        "http://[::1]:8000",
        "http://testserver",
    ],
)
def test_plain_http_links_are_for_development_hosts_only(tmp_path: Path, url: str) -> None:
    """LEGAL #20: outside development (a host only this machine or a test client reaches) a family's
    link, and the one-click POST to it, must be HTTPS; the refusal is in the table above."""
    settings = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_PUBLIC_BASE_URL": url})
    assert settings.links.public_base_url == url


def test_serve_on_a_network_address_without_a_public_url_is_refused_naming_it(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert mint_links_for("consent.internal", 8080, environ) == "http://consent.internal:8080"
    with pytest.raises(
        SettingsError, match=r"^CONSENT_PUBLIC_BASE_URL=http://consent.internal:8080: must be an https://"
    ):
        Settings.from_env({**environ, "CONSENT_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("host", "minted"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://localhost:8080"),  # noqa: S104 (what serve is given, not bound here)
        ("::", "http://localhost:8080"),
        ("::1", "http://[::1]:8080"),
    ],
)
def test_serve_mints_links_for_its_own_address_when_no_public_url_is_set(
    host: str, minted: str, tmp_path: Path
) -> None:
    environ: dict[str, str] = {}
    assert mint_links_for(host, 8080, environ) == minted
    assert (
        Settings.from_env(
            {
                **environ,
                "CONSENT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                "CONSENT_FINGERPRINT_KEY": KEY,
                "CONSENT_LINK_SIGNING_KEY": KEY,
                "CONSENT_ENCRYPTION_KEY": KEY,
            }
        ).links.public_base_url
        == minted
    )


def test_an_operators_public_url_is_kept_whatever_serve_listens_on() -> None:
    environ = {"CONSENT_PUBLIC_BASE_URL": "https://consent.example.org"}
    assert mint_links_for("0.0.0.0", 8080, environ) is None  # noqa: S104
    assert environ == {"CONSENT_PUBLIC_BASE_URL": "https://consent.example.org"}
