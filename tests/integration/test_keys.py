"""API keys an administrator can see, revoke and let expire, and the public pages' rate limit behind a
reverse proxy (issue 18, "Keys and limits")."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from msgspec.structs import replace

from consent_service.api.app import create_app, shutdown
from consent_service.bootstrap import build_context
from consent_service.config import Limits
from tests.integration.conftest import Api, command_line_environment
from tests.support.asgi import in_process

CLI = Path(sys.executable).with_name("consent-service")


async def make_key(api: Api, scopes: list[str], **more: object) -> dict[str, object]:
    body = {"name": f"key {uuid.uuid4().hex[:8]}", "scopes": scopes, **more}
    made = await api.post("/v1/keys", body, scope="all")
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


async def purposes_with(api: Api, secret: object) -> int:
    response = await api.client.get("/v1/purposes", headers={"Authorization": f"Bearer {secret}"})
    return response.status_code


def listed(items: list[dict[str, object]], key_id: object) -> dict[str, object]:
    return next(item for item in items if item["id"] == key_id)


async def test_keys_are_listed_with_scopes_times_and_state_but_never_their_secret(api: Api) -> None:
    until = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    made = await make_key(api, ["checks"], expires_at=until.isoformat())
    assert datetime.fromisoformat(str(made["expires_at"])) == until

    response = await api.get("/v1/keys", scope="admin")
    assert response.status_code == 200, response.text
    assert str(made["key"]) not in response.text
    entry = listed(response.json()["items"], made["id"])
    assert entry["name"] == made["name"] and entry["scopes"] == ["checks"]
    assert entry["active"] is True and entry["revoked_at"] is None and entry["last_used_at"] is None
    assert datetime.fromisoformat(str(entry["expires_at"])) == until
    assert abs(datetime.fromisoformat(str(entry["created_at"])) - datetime.now(UTC)) < timedelta(minutes=1)
    assert all("key" not in item for item in response.json()["items"])


async def test_last_use_is_written_coarsely_not_once_per_request(api: Api) -> None:
    made = await make_key(api, ["checks"])
    assert [await purposes_with(api, made["key"]) for _ in range(20)] == [200] * 20
    # Twenty requests wrote nothing: uses are gathered in memory ...
    entry = listed((await api.get("/v1/keys", scope="admin")).json()["items"], made["id"])
    assert entry["last_used_at"] is None
    # ... and written by each worker once a minute (here, at once), as the list then shows.
    await api.context.key_ring.write_uses()
    entry = listed((await api.get("/v1/keys", scope="admin")).json()["items"], made["id"])
    last_used = datetime.fromisoformat(str(entry["last_used_at"]))
    assert abs(last_used - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_revoked_key_is_refused_at_once_and_listed_as_revoked(api: Api) -> None:
    made = await make_key(api, ["checks", "forms"])
    assert await purposes_with(api, made["key"]) == 200

    revoked = await api.delete(f"/v1/keys/{made['id']}", None, scope="admin")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False and revoked.json()["revoked_at"] is not None
    refused = await api.client.get("/v1/purposes", headers={"Authorization": f"Bearer {made['key']}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")

    again = await api.delete(f"/v1/keys/{made['id']}", None, scope="admin")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"], "the first revocation stands"
    entry = listed((await api.get("/v1/keys", scope="admin")).json()["items"], made["id"])
    assert (entry["active"], entry["revoked_at"]) == (False, revoked.json()["revoked_at"])

    missing = await api.delete(f"/v1/keys/{uuid.uuid4()}", None, scope="admin")
    assert missing.status_code == 404
    assert await purposes_with(api, api.keys["admin"]) == 200, "other keys are untouched"


async def test_an_expired_key_is_refused_and_a_past_expiry_is_refused_by_name(api: Api) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    made = await make_key(api, ["checks"], expires_at=soon.isoformat())
    assert await purposes_with(api, made["key"]) == 200
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.05)
    assert await purposes_with(api, made["key"]) == 401
    entry = listed((await api.get("/v1/keys", scope="admin")).json()["items"], made["id"])
    assert (entry["active"], entry["revoked_at"]) == (False, None)

    past = await api.post(
        "/v1/keys",
        {"name": "too late", "scopes": ["checks"], "expires_at": "2020-01-01T00:00:00Z"},
        scope="all",
    )
    assert past.status_code == 422
    assert [e["field"] for e in past.json()["errors"]] == ["expires_at"], past.text


# --- The public pages' rate limit behind a reverse proxy ----------------------------------------------

PROXY = ("10.20.0.5", 40000)
STRANGER = ("203.0.113.50", 40000)


async def pages_seen(
    api: Api, peer: tuple[str, int], headers_each: list[dict[str, str]], trusted: tuple[str, ...]
) -> list[int]:
    """The status of one public page fetched once per header set, by an app limiting 3 a minute."""
    limited = replace(
        api.settings, limits=Limits(public_rate_limit=3, trusted_proxies=trusted), redis_url=None
    )
    context = build_context(limited)
    app = create_app(limited, context)
    transport = httpx.ASGITransport(app=in_process(app).app, client=peer)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [(await client.get("/unsubscribe/garbage", headers=h)).status_code for h in headers_each]
    finally:
        await shutdown(app, context)


async def test_behind_a_trusted_proxy_each_family_has_its_own_limit_and_each_is_still_limited(
    api: Api,
) -> None:
    trusted = ("10.0.0.0/8",)
    # Families interleaved, as they arrive through one proxy; another trusted hop in between is passed.
    families = [
        {"X-Forwarded-For": "198.51.100.1"},
        {"X-Forwarded-For": "198.51.100.2, 10.9.9.9"},
        {"X-Real-IP": "198.51.100.3"},
    ]
    statuses = await pages_seen(api, PROXY, families * 5, trusted)
    by_family = [statuses[i::3] for i in range(3)]
    assert by_family == [[404, 404, 404, 429, 429]] * 3, statuses

    # A family that writes its own X-Forwarded-For gets the proxy's hop appended: it is the one counted.
    spoofing = [{"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.9"} for i in range(6)]
    assert await pages_seen(api, PROXY, spoofing, trusted) == [404, 404, 404, 429, 429, 429]


async def test_from_an_untrusted_peer_forwarded_headers_change_nothing(api: Api) -> None:
    rotated = [{"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"192.0.2.{i}"} for i in range(1, 7)]
    expected = [404, 404, 404, 429, 429, 429]
    assert await pages_seen(api, STRANGER, rotated, ("10.0.0.0/8",)) == expected
    # With no proxy trusted at all, a proxy's own address is just another client.
    assert await pages_seen(api, PROXY, rotated, ()) == expected


# --- The same on the command line ------------------------------------------------------------------


def cli(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(CLI), "keys", *args],
        env=command_line_environment(api.settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_keys_are_made_with_an_expiry_listed_and_revoked_on_the_command_line(api: Api) -> None:
    name = f"cli {uuid.uuid4().hex[:8]}"
    made = await asyncio.to_thread(
        cli, api, "create", "--name", name, "--scope", "checks", "--expires", "2036-01-31"
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert await purposes_with(api, secret) == 200

    listing = await asyncio.to_thread(cli, api, "list")
    row = next(line for line in listing.stdout.splitlines() if name in line)
    assert "checks" in row and "2036-01-31 00:00" in row and row.endswith("active")
    assert secret not in listing.stdout
    key_id = row.split()[0]

    revoked = await asyncio.to_thread(cli, api, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert await purposes_with(api, secret) == 401
    listing = await asyncio.to_thread(cli, api, "list")
    assert "revoked" in next(line for line in listing.stdout.splitlines() if name in line)

    unknown = await asyncio.to_thread(cli, api, "revoke", str(uuid.uuid4()))
    assert unknown.returncode == 1 and "no API key" in unknown.stderr
    garbled = await asyncio.to_thread(
        cli, api, "create", "--name", "x", "--scope", "checks", "--expires", "soon"
    )
    assert garbled.returncode == 2 and "'soon' is not a date" in garbled.stderr
