"""DESIGN §4.1 with the database away: a family's unsubscribe is spooled on disk and confirmed, every
check denies it from that moment, and it reaches the ledger exactly once when the database returns."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.adapters.spool import NAME, FileSpool
from consent_service.api.app import create_app
from consent_service.bootstrap import build_context
from consent_service.domain.channels import Channel
from consent_service.domain.errors import StoreUnavailable
from consent_service.services import checks, spool
from consent_service.services.context import Context
from tests.integration.conftest import Api, fresh_email
from tests.integration.test_links import links_for, path_of
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process


@dataclass
class Away:
    """A worker on the same host (same data directory and keys) that cannot reach the database."""

    client: httpx.AsyncClient
    context: Context


@pytest.fixture
async def away(api: Api) -> AsyncIterator[Away]:
    settings = api.settings
    unreachable = (
        "postgresql+asyncpg://postgres@127.0.0.1:9/consent"
        if settings.database.url.startswith("postgresql")
        else f"sqlite+aiosqlite:///{settings.data_dir}/no/such/dir/consent.db"
    )
    down = msgspec.structs.replace(
        settings,
        database=msgspec.structs.replace(settings.database, url=unreachable),
        checks=msgspec.structs.replace(settings.checks, cache="off"),
        redis_url=None,
    )
    context = build_context(down)
    # The catalogue was loaded at start, before the database went away.
    context.catalogue.catalogue = api.context.catalogue.catalogue
    app = create_app(down, context)
    async with httpx.AsyncClient(transport=in_process(app), base_url="http://testserver") as client:
        yield Away(client, context)
    await context.store.dispose()


async def withdrawals(database: AsyncEngine, person: str) -> list[str]:
    async with database.connect() as connection:
        rows = await connection.execute(
            text("SELECT source FROM consent_events WHERE person_id = :p AND decision = 'withdrawn'"),
            {"p": person},
        )
        return [row.source for row in rows]


async def waiting_metric(api: Api) -> float:
    metrics = (await api.client.get("/metrics")).text
    (line,) = [line for line in metrics.splitlines() if line.startswith("consent_optout_spool_waiting ")]
    return float(line.split()[1])


async def granted(api: Api) -> tuple[str, str, dict[str, str]]:
    """A family who agreed to marketing email: their address, person id and links."""
    email = fresh_email()
    person = str((await register(api, email, None, [grant("email")]))["person_id"])
    return email, person, await links_for(api, email)


async def test_an_unsubscribe_while_the_database_is_away_is_spooled_denied_and_applied_once(
    api: Api, away: Away, database: AsyncEngine
) -> None:
    email, person, minted = await granted(api)
    assert (await api.check("email", email))["allowed"] is True

    confirm = await away.client.get(path_of(minted["url"]))
    assert confirm.status_code == 200 and "<button" in confirm.text
    page = await away.client.post(path_of(minted["url"]), content=b"List-Unsubscribe=One-Click")
    assert page.status_code == 200, page.text
    assert "You have been unsubscribed" in page.text and "held safely" in page.text
    # Pressed again while still away: still one opt-out waiting, and the page says it is done.
    again = await away.client.post(path_of(minted["url"]), content=b"")
    assert again.status_code == 200
    assert "already unsubscribed" in (await away.client.get(path_of(minted["url"]))).text
    assert len(api.context.spool.pending()) == 1

    # The database is back but the spool not yet applied: the check must already deny.
    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"], answer["degraded"]) == (False, "suppressed", False)
    assert answer["evidence"]["suppression_reason"] == "unsubscribed"
    bulk = await api.post(
        "/v1/checks/bulk", {"purpose": "marketing", "channel": "email", "to": [email]}, scope="checks"
    )
    assert bulk.json()["results"][0]["allowed"] is False
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True
    assert await withdrawals(database, person) == []
    with pytest.raises(StoreUnavailable):  # the database is still away from that worker
        await spool.apply(away.context)
    assert await waiting_metric(api) == 1

    assert await spool.apply(api.context) == 1
    assert await waiting_metric(api) == 0
    assert api.context.spool.pending() == frozenset()
    assert await withdrawals(database, person) == ["unsubscribe_link"]
    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")


async def test_an_entry_applied_but_not_yet_removed_is_not_applied_twice(
    api: Api, away: Away, database: AsyncEngine
) -> None:
    """A crash between the database's commit and the spool's removal leaves the entry behind."""
    _, person, minted = await granted(api)
    assert (await away.client.post(path_of(minted["url"]), content=b"")).status_code == 200
    (entry,) = api.context.spool.pending()
    assert await spool.apply(api.context) == 1

    # The person changes their mind on the preferences page; then the stale entry is met again.
    again = await api.post(
        f"/v1/people/{person}/consents", {"choices": [grant("email")], "source": "web_form"}, scope="forms"
    )
    assert again.status_code == 201, again.text
    api.context.spool.append(entry)
    await spool.apply(api.context)
    assert await withdrawals(database, person) == ["unsubscribe_link"]


async def test_the_preferences_page_says_try_again_while_the_database_is_away(api: Api, away: Away) -> None:
    """Only an opt-out is spooled: a choice that could be a grant waits for the database."""
    _, _, minted = await granted(api)
    page = await away.client.get(path_of(minted["preferences_url"]))
    assert page.status_code == 503 and "could not record" in page.text
    assert page.headers["retry-after"] == "60"
    assert api.context.spool.pending() == frozenset()


async def test_a_check_that_cannot_read_the_spool_fails_closed(api: Api, tmp_path: Path) -> None:
    email, _, _ = await granted(api)
    broken = FileSpool(tmp_path)
    (tmp_path / NAME).unlink()
    (tmp_path / NAME).mkdir()
    ctx = dataclasses.replace(api.context, spool=broken)
    marketing = await checks.check(ctx, checks.CheckInput("marketing", Channel.EMAIL, email))
    assert (marketing.allowed, marketing.reason.value, marketing.degraded) == (
        False,
        "store_unavailable",
        True,
    )
    admin = await checks.check(ctx, checks.CheckInput("administrative", Channel.EMAIL, email))
    assert (admin.allowed, admin.degraded) == (True, True)
    (bulk,) = await checks.check_many(ctx, "marketing", Channel.EMAIL, [email])
    assert (bulk.allowed, bulk.degraded) == (False, True)
