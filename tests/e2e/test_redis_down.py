"""Redis holds rate-limit counters and staff sessions, not the record: its loss must not close a page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.e2e.conftest import running
from tests.support.services import private_redis


def test_family_and_staff_pages_keep_working_while_redis_is_down(tmp_path: Path) -> None:
    # A write that cannot move the change signal holds its answer until every cached answer has
    # expired (DESIGN §4.1), so a short cache life keeps this test short.
    with (
        private_redis() as redis,
        running(tmp_path, CONSENT_REDIS_URL=redis.url, CONSENT_CHECK_CACHE_TTL="1") as server,
    ):
        email = "redis.down@example.org"
        minted = httpx.post(
            f"{server.base}/v1/unsubscribe-links",
            json={"to": email, "channel": "email", "purpose": "marketing"},
            headers=server.auth,
        )
        assert minted.status_code == 201, minted.text
        path = httpx.URL(minted.json()["url"]).path

        redis.kill()

        page = httpx.get(f"{server.base}{path}")
        assert page.status_code == 200, page.text
        assert re.search(r"<button", page.text)
        done = httpx.post(f"{server.base}{path}", data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert done.status_code == 200, done.text
        assert "unsubscribed" in done.text.lower()
        assert httpx.get(f"{server.base}/staff/sign-in").status_code == 200

        check = httpx.post(
            f"{server.base}/v1/checks",
            json={"to": email, "channel": "email", "purpose": "marketing"},
            headers=server.auth,
        )
        assert check.status_code == 200
        assert check.json()["allowed"] is False
