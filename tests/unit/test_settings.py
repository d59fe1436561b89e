"""Settings: the embedded default makes its own secrets once; production must be given them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from consent_service.config import Settings, SettingsError

KEY = "ab" * 32


def test_embedded_default_generates_secrets_once_readable_by_the_owner_alone(tmp_path: Path) -> None:
    first = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert first.embedded and first.database_url == f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}"
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


def test_postgresql_with_secrets_uses_the_async_driver(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": "postgresql://postgres@db:5432/consent",
            "CONSENT_FINGERPRINT_KEY": KEY,
            "CONSENT_LINK_SIGNING_KEY": KEY,
            "CONSENT_REDIS_URL": "redis://cache:6379/0",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://postgres@db:5432/consent"
    assert settings.redis_url == "redis://cache:6379/0" and not settings.embedded


@pytest.mark.parametrize("bad", ["not-hex", "abcd"])
def test_a_weak_or_malformed_secret_is_refused(tmp_path: Path, bad: str) -> None:
    environ = {
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_DATABASE_URL": "postgresql://db/consent",
        "CONSENT_FINGERPRINT_KEY": bad,
        "CONSENT_LINK_SIGNING_KEY": KEY,
    }
    with pytest.raises(SettingsError, match="CONSENT_FINGERPRINT_KEY"):
        Settings.from_env(environ)


def test_a_redis_cache_without_redis_is_refused_not_silently_off(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CONSENT_CHECK_CACHE=redis needs CONSENT_REDIS_URL"):
        Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_CHECK_CACHE": "redis"})


def test_a_host_cache_beside_postgresql_makes_its_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-yet"
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(data_dir),
            "CONSENT_DATABASE_URL": "postgresql://postgres@db:5432/consent",
            "CONSENT_FINGERPRINT_KEY": KEY,
            "CONSENT_LINK_SIGNING_KEY": KEY,
            "CONSENT_CHECK_CACHE": "host",
        }
    )
    assert settings.cache_mode == "host" and data_dir.is_dir()


def test_webhooks_go_to_public_hosts_unless_the_organisation_lists_its_own(tmp_path: Path) -> None:
    default = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert default.webhook_destinations.refusal("http://10.0.0.1/") is not None
    internal = Settings.from_env(
        {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_WEBHOOK_DESTINATIONS": "crm.internal,10.0.0.0/8"}
    )
    assert internal.webhook_destinations.refusal("http://10.0.0.1/") is None
    assert internal.webhook_destinations.refusal("https://crm.example.org/") is not None
    with pytest.raises(SettingsError, match=r"CONSENT_WEBHOOK_DESTINATIONS: '10\.0\.0\.0/40'"):
        Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_WEBHOOK_DESTINATIONS": "10.0.0.0/40"})
