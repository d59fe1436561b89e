"""The opt-out spool turned off (``CONSENT_OPTOUT_SPOOL=off``) and the database away: an unsubscribe is
answered as any other write is then, "try again shortly", and nothing waits on this host's disk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from consent_service.adapters.spool import NAME
from consent_service.api.app import create_app
from consent_service.bootstrap import build_context
from consent_service.config import Settings
from consent_service.domain.channels import Channel
from consent_service.domain.errors import StoreUnavailable
from consent_service.services import checks, spool, unsubscribes
from consent_service.services.context import Context
from tests.integration.conftest import Api
from tests.integration.test_links import path_of
from tests.integration.test_spool import granted
from tests.support.asgi import in_process


@pytest.fixture
async def unspooled(api: Api, tmp_path: Path) -> AsyncIterator[tuple[Settings, Context]]:
    """A worker with no spool that cannot reach the database (the catalogue loaded before it went),
    holding the same keys as the suite's app, so the links it made are good here."""
    settings = Settings.from_env(
        {
            "CONSENT_DATA_DIR": str(tmp_path),
            "CONSENT_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/consent",
            "CONSENT_FINGERPRINT_KEY": api.settings.fingerprint_key.hex(),
            "CONSENT_LINK_SIGNING_KEY": api.settings.links.signing_key.hex(),
            "CONSENT_ENCRYPTION_KEY": api.settings.encryption_key.hex(),
            "CONSENT_OPTOUT_SPOOL": "off",
            "CONSENT_CHECK_CACHE": "off",
        }
    )
    context = build_context(settings)
    context.catalogue.catalogue = api.context.catalogue.catalogue
    yield settings, context
    await context.store.dispose()


async def test_without_a_spool_an_unsubscribe_waits_for_the_database(
    api: Api, unspooled: tuple[Settings, Context], tmp_path: Path
) -> None:
    settings, context = unspooled
    email, _, minted = await granted(api)
    path = path_of(minted["url"])

    transport = in_process(create_app(settings, context))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get(path)
        pressed = await client.post(path, content=b"List-Unsubscribe=One-Click")
    for response in (page, pressed):
        assert response.status_code == 503 and "try again" in response.text.lower()
        assert response.headers["retry-after"] == "60"
    token = path.removeprefix("/unsubscribe/")
    for attempt in (unsubscribes.describe_unsubscribe, unsubscribes.unsubscribe):
        with pytest.raises(StoreUnavailable, match="the database did not answer"):
            await attempt(context, token)
    assert not (tmp_path / NAME).exists()
    assert await spool.apply(context) == 0

    answer = await checks.check(context, checks.CheckInput("marketing", Channel.EMAIL, email))
    assert (answer.allowed, answer.reason.value, answer.degraded) == (False, "store_unavailable", True)
