"""`consent-service serve --port P` with no public URL set mints links a family can open on that port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import running


@pytest.mark.parametrize(
    ("host", "link_host"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "localhost")],  # noqa: S104 (the address serve is given)
)
def test_links_name_the_port_the_server_listens_on_and_open(
    tmp_path: Path, host: str, link_host: str
) -> None:
    with running(tmp_path, "--host", host, CONSENT_PUBLIC_BASE_URL="") as server:
        port = httpx.URL(server.base).port
        minted = httpx.post(
            f"{server.base}/v1/unsubscribe-links",
            json={"to": "parent@example.org", "channel": "email"},
            headers=server.auth,
        )
        assert minted.status_code == 201, minted.text
        links = minted.json()
        for url in (links["url"], links["preferences_url"]):
            assert url.startswith(f"http://{link_host}:{port}/"), url
            assert httpx.get(url).status_code == 200, url
        assert (
            f"Links for families point at http://{link_host}:{port}" in (tmp_path / "server.log").read_text()
        )
