"""Promise 7, API keys are random, shown once and stored hashed: issue keys every way there is (the
fixture's, over the API, on the command line), then read everything the database holds, and the data
directory's files byte for byte, for any spelling of any of their secrets.

A key is ``csk_`` and 32 random bytes in URL-safe base64; the database holds the SHA-256 hex digest of
the whole string. So besides the key as given, a leak could be the part after the prefix, the random
bytes in hex or in standard base64, or the bytes themselves in a binary column or a page of the file.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.domain.keys import KEY_PREFIX, key_digest
from tests.integration.conftest import Api, command_line_environment

CLI = Path(sys.executable).with_name("consent-service")


def spellings(secret: str) -> list[bytes]:
    """Every form in which a key could be stored or logged without being hashed."""
    body = secret.removeprefix(KEY_PREFIX)
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    forms = [secret, body, raw.hex(), base64.b64encode(raw).decode().rstrip("=")]
    return [form.encode() for form in forms] + [raw]


async def issue_over_the_api(api: Api) -> list[str]:
    made = []
    for scopes in (["checks"], ["forms", "staff"], ["admin", "checks", "forms", "staff"]):
        # An Idempotency-Key would make a write keep its answer for replay: here, the secret itself.
        response = await api.post(
            "/v1/keys",
            {"name": f"security {uuid.uuid4().hex[:8]}", "scopes": scopes},
            scope="all",
            **{"Idempotency-Key": f"key-{uuid.uuid4().hex}"},
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["key"])
    return made


def issue_on_the_command_line(api: Api) -> str:
    done = subprocess.run(  # noqa: S603
        [str(CLI), "keys", "create", "--name", "security cli", "--scope", "checks"],
        env=command_line_environment(api.settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


async def table_rows(engine: AsyncEngine) -> bytes:
    """Every row of every table, each value as text and as its repr (bytes columns show as bytes)."""
    out = bytearray()
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "api_keys" in tables
        for table in tables:
            for row in await connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                for value in row:
                    out += value if isinstance(value, bytes) else f"{value}\t{value!r}\n".encode()
    return bytes(out)


def pg_dump(database_url: str) -> bytes:
    url = database_url.replace("+asyncpg", "")
    assert url.startswith("postgresql://postgres@127.0.0.1:5432/")  # this machine only
    return subprocess.run(  # noqa: S603
        ["pg_dump", "--data-only", url],  # noqa: S607
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout


def data_dir_files(data_dir: Path) -> bytes:
    """The SQLite file, its WAL, secrets.json, the spool: whatever this service wrote to disk."""
    return b"".join(path.read_bytes() for path in sorted(data_dir.rglob("*")) if path.is_file())


async def test_no_key_is_stored_in_any_spelling(
    api: Api, database: AsyncEngine, figure: Callable[[str], None]
) -> None:
    issued = [*api.keys.values(), *await issue_over_the_api(api)]
    issued.append(await asyncio.to_thread(issue_on_the_command_line, api))
    assert len(set(issued)) == len(issued)
    for secret in issued:
        assert secret.startswith(KEY_PREFIX)
        assert len(spellings(secret)[-1]) >= 16, "a key carries at least 128 random bits"
        # Each is a working key, so the store must be able to recognise it without holding it.
        usable = await api.client.get("/v1/purposes", headers={"Authorization": f"Bearer {secret}"})
        assert usable.status_code == 200, usable.text

    dumps = {"rows": await table_rows(database), "files": data_dir_files(api.settings.data_dir)}
    if api.settings.database.url.startswith("postgresql"):
        dumps["pg_dump"] = await asyncio.to_thread(pg_dump, api.settings.database.url)
    else:
        assert api.settings.database.url.endswith("consent.db")
    searched = 0
    for where, dump in dumps.items():
        for secret in issued:
            for form in spellings(secret):
                assert form not in dump, f"a key ({len(form)}-byte form) is readable in {where}"
                searched += 1
        if where != "files" or not api.settings.database.url.startswith("postgresql"):
            # The digests are there: the dump did reach the keys, so not finding them means something.
            assert all(key_digest(secret).encode() in dump for secret in issued), where
    figure(
        f"{len(issued)} keys x {len(spellings(issued[0]))} spellings in {sorted(dumps)}: {searched} searches"
    )
