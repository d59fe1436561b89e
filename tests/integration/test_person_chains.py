"""The ledger's hash chains are kept per person: writes for different people never wait for each other,
and ``audit verify`` still finds every change an intruder could make, helped by checkpoints.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from consent_service.domain.channels import Channel
from consent_service.domain.ledger import Decision, Source
from consent_service.services import audit, choices
from consent_service.services.choices import ChoiceInput, ChoicesInput
from tests.integration.conftest import Fresh, register_someone, tamper_with_events, ticked_grant


@pytest.fixture(autouse=True)
def _postgres_first(request: pytest.FixtureRequest) -> None:
    # The session's PostgreSQL is made by a synchronous fixture, which cannot start inside ``fresh``'s loop.
    if "postgresql" in request.node.name:
        request.getfixturevalue("postgres_url")


async def _register(fresh: Fresh) -> str:
    grants = (ticked_grant("marketing", Channel.EMAIL), ticked_grant("marketing", Channel.SMS))
    return await register_someone(fresh.context, *grants)


async def _withdraw(fresh: Fresh, person_id: str) -> None:
    await choices.record_choices(
        fresh.context,
        choices.RecordChoices(
            person_id,
            ChoicesInput([ChoiceInput("marketing", Channel.EMAIL, Decision.WITHDRAWN)], Source.WEB_FORM, "t"),
        ),
    )


async def _sql(fresh: Fresh, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(fresh.url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


# SQLite has one writer at a time by design; writers in parallel are PostgreSQL's.
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
async def test_a_write_for_one_person_does_not_wait_for_another_persons_write(fresh: Fresh) -> None:
    held, other = await _register(fresh), await _register(fresh)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_one_chain() -> None:
        async with fresh.context.store.writing() as uow:
            await uow.ledger.hold_chains([held])
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_one_chain())
    await holding.wait()
    try:
        # Under the one global lock this waited for the holder; now only the same person's write does.
        await asyncio.wait_for(_withdraw(fresh, other), timeout=5)
        same_person = asyncio.create_task(_withdraw(fresh, held))
        await asyncio.sleep(0.5)
        assert not same_person.done()
    finally:
        release.set()
        await holder
    await asyncio.wait_for(same_person, timeout=5)
    assert (await audit.verify(fresh.context)).intact


async def test_many_writes_at_once_for_many_people_leave_every_chain_intact(fresh: Fresh) -> None:
    people = [await _register(fresh) for _ in range(6)]
    await asyncio.gather(*(_withdraw(fresh, p) for p in people * 3))
    report = await audit.verify(fresh.context)
    assert report.intact, report
    assert report.events == 6 * 2 + 18


async def test_removing_a_persons_last_event_is_found_by_the_head_on_record(fresh: Fresh) -> None:
    person = await _register(fresh)
    await _withdraw(fresh, person)
    last = await _sql(fresh, "SELECT id FROM consent_events WHERE person_id = :p ORDER BY seq DESC", p=person)
    # The current choice points at the last event: an intruder repoints it at the one before first.
    earlier = await _sql(
        fresh,
        "SELECT id FROM consent_events WHERE person_id = :p AND channel = 'email' ORDER BY seq",
        p=person,
    )
    await _sql(
        fresh, "UPDATE current_consents SET event_id = :e WHERE event_id = :l", e=earlier[0][0], l=last[0][0]
    )
    await tamper_with_events(fresh.url, "DELETE FROM consent_events WHERE id = :id", id=last[0][0])

    report = await audit.verify(fresh.context)
    assert report.truncated and report.truncated_person == person


async def test_a_checkpoint_pins_a_chain_so_removing_it_with_its_head_is_found(fresh: Fresh) -> None:
    kept, removed = await _register(fresh), await _register(fresh)
    made = await audit.checkpoint(fresh.context)
    assert made is not None and {h.person_id for h in made.heads} == {kept, removed}
    # Embedded, the check cache keeps answers under this host's change signal (this fixture gives
    # PostgreSQL no Redis, so no cache): a quiet checkpoint writes nothing, and drops none of them.
    token = await fresh.context.answers.token()
    assert (token is not None) == ("sqlite" in fresh.url)
    assert await audit.checkpoint(fresh.context) is None  # nothing moved since
    assert await fresh.context.answers.token() == token
    assert (await audit.verify(fresh.context)).checkpoints == 1

    await _sql(fresh, "DELETE FROM current_consents WHERE person_id = :p", p=removed)
    await _sql(fresh, "DELETE FROM person_chains WHERE person_id = :p", p=removed)
    await tamper_with_events(fresh.url, "DELETE FROM consent_events WHERE person_id = :p", p=removed)

    report = await audit.verify(fresh.context)
    assert not report.intact and report.broken_checkpoint == made.id


async def test_a_changed_checkpoint_is_named(fresh: Fresh) -> None:
    await _register(fresh)
    first = await audit.checkpoint(fresh.context)
    await _withdraw(fresh, await _register(fresh))
    second = await audit.checkpoint(fresh.context)
    assert first is not None and second is not None and second.prev_hash == first.hash
    assert (await audit.verify(fresh.context)).intact

    await _sql(fresh, "UPDATE ledger_checkpoint_heads SET seq = seq + 1 WHERE checkpoint_id = :c", c=first.id)
    assert (await audit.verify(fresh.context)).broken_checkpoint == first.id
