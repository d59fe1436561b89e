"""A check that misses the answer cache reads the store in one statement, whatever the address holds.

On the embedded default nearly every check misses, and each statement costs this process more CPU
than the database takes to answer it (``db/repositories/check_facts.py``): a statement added back to
the hot path shows here before it shows as a slower service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from consent_service.domain.channels import Channel
from consent_service.services import checks
from tests.integration.conftest import Api
from tests.integration.test_bulk_checks import every_kind_of_address

#: Sent by the store around a read, not by the check: SQLite's BEGIN and the answer cache's pings.
NOT_THE_CHECKS = ("BEGIN", "SELECT 1")


@contextmanager
def statements() -> Iterator[list[str]]:
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.strip() not in NOT_THE_CHECKS:
            sent.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def test_a_check_that_misses_the_cache_sends_one_statement(api: Api) -> None:
    addresses = [a for a in await every_kind_of_address(api) if isinstance(a, str) and "@" in a]
    # Every check reads the store, as a miss does.
    uncached = replace(api.context, answers=checks.NO_ANSWERS)
    back_after_erasure = addresses[6]
    for address in addresses:
        with statements() as sent:
            await checks.check(uncached, checks.CheckInput("marketing", Channel.EMAIL, to=address))
        # At an erasure's tombstone, the person's own grants are read as well (LEGAL #16).
        assert len(sent) == (2 if address == back_after_erasure else 1), (address, sent)


async def test_checks_of_one_address_arriving_together_ask_the_database_once(api: Api) -> None:
    """A mailing run sends the same address from several threads; expiring answers are asked for
    again together. One check asks the store, the others wait for its answer."""
    [address] = [a for a in await every_kind_of_address(api) if isinstance(a, str) and "@" in a][:1]
    request = checks.CheckInput("marketing", Channel.EMAIL, to=address)
    api.context.answers.database_answered()
    with statements() as sent:
        answers = await asyncio.gather(*(checks.check(api.context, request) for _ in range(8)))
    assert len({a.allowed for a in answers}) == 1
    assert len(sent) == 1, sent
