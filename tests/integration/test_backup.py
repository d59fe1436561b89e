"""`consent-service backup` and `restore`: a host restored from its archive still refuses who opted out."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import tarfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent_service.bootstrap import build_context
from consent_service.config import SECRET_NAMES, Settings
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.decision import Answer
from consent_service.domain.ledger import Decision, Source
from consent_service.domain.spool import SpooledOptOut
from consent_service.services import choices, people
from consent_service.services.catalogue import seed
from consent_service.services.checks import CheckInput, check
from consent_service.services.choices import ChoiceInput, ChoicesInput
from consent_service.services.suppressions import fingerprint_of
from tests.integration.conftest import fresh_email
from tests.integration.test_rights import CLI, _register, embedded_with_people

KEY_A, KEY_B = "ab" * 32, "cd" * 32


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)  # noqa: S603


def _embedded(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CONSENT_DATA_DIR": str(data_dir)}
    for name in ("CONSENT_DATABASE_URL", *SECRET_NAMES):
        env.pop(name, None)
    return env


async def _contacts_held(data_dir: Path, email: str) -> list[str]:
    """The contact values the service reads back for the person at ``email``: sealed at rest, they open
    only under the encryption key the database was written with."""
    ctx = build_context(Settings.from_env({"CONSENT_DATA_DIR": str(data_dir)}))
    try:
        found = await people.find(ctx, ContactKind.EMAIL, email, None)
        return [contact.value for person in found for contact in person.contacts]
    finally:
        await ctx.store.dispose()


async def _answers(data_dir: Path, *emails: str) -> list[Answer]:
    ctx = build_context(Settings.from_env({"CONSENT_DATA_DIR": str(data_dir)}))
    try:
        return [await check(ctx, CheckInput("marketing", Channel.EMAIL, email)) for email in emails]
    finally:
        await ctx.store.dispose()


async def _withdrawn_granted_and_spooled(data_dir: Path, withdrawn: str, granted: str, spooled: str) -> None:
    """One person who withdrew, one who still allows marketing, one opt-out waiting in the spool."""
    ctx = build_context(Settings.from_env({"CONSENT_DATA_DIR": str(data_dir)}))
    await seed(ctx.store, ctx.clock)
    await ctx.catalogue.reload()
    person = await _register(ctx, withdrawn)
    await _register(ctx, granted)
    withdrawal = ChoicesInput(
        [ChoiceInput("marketing", Channel.EMAIL, Decision.WITHDRAWN)], Source.WEB_FORM, "test"
    )
    await choices.record_choices(ctx, choices.RecordChoices(person, withdrawal))
    fingerprint = fingerprint_of(ctx, spooled, Channel.EMAIL)
    ctx.spool.append(
        SpooledOptOut(str(uuid.uuid4()), fingerprint, Channel.EMAIL, "marketing", datetime.now(UTC))
    )
    await ctx.store.dispose()


def test_a_restored_embedded_service_still_denies_the_withdrawn_and_the_spooled(tmp_path: Path) -> None:
    source, target, archive = tmp_path / "source", tmp_path / "target", tmp_path / "backup.tar.gz"
    withdrawn, granted, spooled = fresh_email(), fresh_email(), fresh_email()
    assert _cli(_embedded(source), "migrate").returncode == 0
    asyncio.run(_withdrawn_granted_and_spooled(source, withdrawn, granted, spooled))
    before = asyncio.run(_answers(source, withdrawn, granted, spooled))
    assert [answer.allowed for answer in before] == [False, True, False]

    taken = _cli(_embedded(source), "backup", str(archive))
    assert taken.returncode == 0, taken.stderr
    assert "1 spooled opt-outs" in taken.stdout and "the database" in taken.stdout
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds the fingerprint key

    restored = _cli(_embedded(target), "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    after = asyncio.run(_answers(target, withdrawn, granted, spooled))
    # The one still granted is allowed: the database and the fingerprint key came back together.
    assert [(a.allowed, a.reason) for a in after] == [(a.allowed, a.reason) for a in before]
    assert json.loads((target / "secrets.json").read_text()) == json.loads(
        (source / "secrets.json").read_text()
    )
    assert oct((target / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert "CONSENT_ENCRYPTION_KEY" in json.loads((target / "secrets.json").read_text())
    assert asyncio.run(_contacts_held(target, granted)) == [granted]

    again = _cli(_embedded(target), "restore", str(archive))
    assert again.returncode == 1 and "--force" in again.stderr
    assert _cli(_embedded(target), "restore", "--force", str(archive)).returncode == 0
    assert [a.allowed for a in asyncio.run(_answers(target, withdrawn, granted, spooled))] == [
        False,
        True,
        False,
    ]


def _archive(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _manifest(**files: bytes) -> bytes:
    listed = {
        name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()
    }
    return json.dumps({"format": "consent-service-backup", "format_version": 1, "files": listed}).encode()


SECRETS = json.dumps({"CONSENT_FINGERPRINT_KEY": KEY_A, "CONSENT_LINK_SIGNING_KEY": KEY_A}).encode()
GOOD = {"secrets.json": SECRETS, "optout-spool.jsonl": b""}


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ({"secrets.json": SECRETS, "optout-spool.jsonl": b""}, "no manifest.json first"),
        ({"manifest.json": b"{not json", **GOOD}, "not JSON"),
        ({"manifest.json": _manifest(**GOOD).replace(b"consent-service-backup", b"other"), **GOOD}, "format"),
        (
            {
                "manifest.json": _manifest(**GOOD).replace(b'"format_version": 1', b'"format_version": 9'),
                **GOOD,
            },
            "9",
        ),
        ({"manifest.json": _manifest(**GOOD), "secrets.json": SECRETS}, "lacks"),
        ({"manifest.json": _manifest(**GOOD), **GOOD, "secrets.json": SECRETS + b" "}, "digest"),
        ({"manifest.json": _manifest(**GOOD), **GOOD, "../escape": b"x"}, "not a file the manifest lists"),
        ({"manifest.json": _manifest(**GOOD), **GOOD}, "holds no database"),  # a PostgreSQL host's archive
    ],
)
def test_restore_refuses_an_archive_it_cannot_trust_and_writes_nothing(
    tmp_path: Path, members: dict[str, bytes], says: str
) -> None:
    archive, target = tmp_path / "bad.tar.gz", tmp_path / "target"
    _archive(archive, members)
    refused = _cli(_embedded(target), "restore", str(archive))
    assert refused.returncode == 2 and says in refused.stderr and "nothing was restored" in refused.stderr
    assert not (target / "consent.db").exists() and not (tmp_path / "escape").exists()
    assert [path.name for path in target.iterdir() if path.name.startswith(".restoring")] == []


def _beside_postgresql(data_dir: Path, fingerprint_key: str = KEY_A) -> dict[str, str]:
    return {
        **_embedded(data_dir),
        "CONSENT_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/consent_backup_test",
        "CONSENT_FINGERPRINT_KEY": fingerprint_key,
        "CONSENT_LINK_SIGNING_KEY": KEY_A,
        "CONSENT_ENCRYPTION_KEY": KEY_B,
    }


def test_beside_postgresql_the_archive_keeps_the_keys_and_spool_and_names_pg_dump(tmp_path: Path) -> None:
    archive = tmp_path / "keys.tar.gz"
    taken = _cli(_beside_postgresql(tmp_path / "one"), "backup", str(archive))
    assert taken.returncode == 0, taken.stderr
    assert "NOT the database" in taken.stdout and "pg_dump" in taken.stdout
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["manifest.json", "secrets.json", "optout-spool.jsonl"]
        secrets = json.loads(tar.extractfile("secrets.json").read())  # type: ignore[union-attr]
    assert secrets == {
        "CONSENT_FINGERPRINT_KEY": KEY_A,
        "CONSENT_LINK_SIGNING_KEY": KEY_A,
        "CONSENT_ENCRYPTION_KEY": KEY_B,
    }

    other_key = _cli(_beside_postgresql(tmp_path / "two", fingerprint_key=KEY_B), "restore", str(archive))
    assert other_key.returncode == 1 and "CONSENT_FINGERPRINT_KEY" in other_key.stderr
    assert KEY_A not in other_key.stderr + other_key.stdout
    same_key = _cli(_beside_postgresql(tmp_path / "two"), "restore", str(archive))
    assert same_key.returncode == 0 and "pg_dump" in same_key.stdout


def test_a_service_given_another_encryption_key_refuses_to_start_naming_it(tmp_path: Path) -> None:
    env = embedded_with_people(tmp_path, 1)
    held = json.loads((tmp_path / "secrets.json").read_text())
    assert _cli(env, "migrate").returncode == 0
    (tmp_path / "secrets.json").write_text(json.dumps(held | {"CONSENT_ENCRYPTION_KEY": KEY_B}))
    refused = _cli(env, "migrate")
    assert refused.returncode == 2, refused.stderr
    assert "CONSENT_ENCRYPTION_KEY does not open the contact details" in refused.stderr
    assert KEY_B not in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
