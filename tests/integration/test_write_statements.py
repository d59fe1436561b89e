"""A write sends only the statements it needs (issue 15, target 4): each costs the worker more CPU
than the database takes to run it (``bench/write_cpu.py``), so a statement added back to a write shows
here before it shows as a slower registration.

A person registered for the first time has nothing to read: no chain to hold, no choices, no contact
points. Everything they could have is checked to be there afterwards, as a later write finds it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.services import audit
from tests.integration.conftest import Api, Fresh, fresh_email, fresh_mobile, register_someone
from tests.integration.test_check_statements import statements
from tests.integration.test_choices import record, withdraw
from tests.integration.test_person_chains import _withdraw
from tests.integration.test_registrations import grant, register
from tests.integration.test_suppressions import suppress

#: ``bench/core.py``'s registration: marketing by email, text and phone; asking again by email and text.
FIVE = [
    *(grant(channel) for channel in ("email", "sms", "phone")),
    *(grant(channel, "consent_renewal") for channel in ("email", "sms")),
]
#: Sent by the store around every write on SQLite, not by the use case. (PostgreSQL's connections are
#: made durable once, when opened: nothing is sent for it per write.)
AROUND = ("BEGIN IMMEDIATE",)


def _written(sent: list[str]) -> list[str]:
    return [s for s in sent if s.strip() not in AROUND]


def _reads_of(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if s.lstrip().startswith("SELECT") and f"FROM {table}" in s]


async def test_registering_someone_new_reads_nothing_of_theirs(api: Api) -> None:
    email = fresh_email()
    with statements() as sent:
        person = (await register(api, email, choices=FIVE))["person_id"]
    sent = _written(sent)
    # Their chain, their choices and their contact points cannot exist before this write commits.
    assert not [s for s in sent if "person_chains" in s and "ON CONFLICT" in s and "RETURNING" in s], sent
    assert not _reads_of(sent, "current_consents"), sent
    assert not _reads_of(sent, "contact_points"), sent
    # The person, the contact point, the sequence numbers, the events, the current choices, the
    # address's suppressions (once for the email channel, whatever the number of grants on it), the
    # chain's head, the outbox: eight. The key's last use is written apart, at most once a minute.
    assert len([s for s in sent if "api_keys" not in s]) == 8, sent

    # What a later write finds is all there: the choices, and a chain to go on from.
    await record(api, person, [withdraw("email")])
    assert (await api.check("email", email))["allowed"] is False
    assert (await api.check("sms", None, person_id=person))["allowed"] is True


async def test_a_withdrawal_reads_the_person_and_their_contact_points_in_one_statement(api: Api) -> None:
    email, mobile = fresh_email(), fresh_mobile()
    person = (await register(api, email, mobile, [grant("email"), grant("sms")]))["person_id"]
    with statements() as sent:
        await record(api, person, [withdraw("email")])
    assert len(_reads_of(sent, "people")) == 1, sent
    assert not _reads_of(sent, "contact_points"), sent
    # Both addresses were read with the person: the email's withdrawal suppressed the email only.
    assert (await api.check("email", email))["allowed"] is False
    assert (await api.check("sms", mobile))["allowed"] is True


async def test_a_registration_found_by_reference_reads_the_person_and_their_contact_points_at_once(
    api: Api,
) -> None:
    email, reference = fresh_email(), f"HS-{uuid.uuid4().hex[:8]}"
    first = (await register(api, email, choices=[grant("email")], reference=reference))["person_id"]
    with statements() as sent:
        again = (await register(api, email, choices=[grant("sms")], reference=reference))["person_id"]
    assert again == first
    assert len(_reads_of(sent, "people")) == 1, sent
    # The address they gave again is held already: kept, not added twice nor read on its own.
    assert not _reads_of(sent, "contact_points"), sent
    found = await api.get(f"/v1/people/{first}")
    assert [c["value"] for c in found.json()["contacts"]] == [email]


async def test_grants_on_one_channel_read_its_suppressions_once_and_lift_an_entry_once(
    api: Api, database: AsyncEngine
) -> None:
    email = fresh_email()
    person = (await register(api, email))["person_id"]
    entry = await suppress(api, email, reason="complaint")
    assert (await api.check("email", email))["reason"] == "suppressed"

    with statements() as sent:
        await record(api, person, [grant("email"), grant("email", "consent_renewal")])
    assert len(_reads_of(sent, "suppressions")) == 1, sent
    assert (await api.check("email", email))["reason"] == "consent_granted"
    assert await _lifts_announced(database, entry["id"]) == 1


async def _lifts_announced(database: AsyncEngine, entry_id: str) -> int:
    """How many changes in the outbox announce this entry's lift."""
    async with database.connect() as connection:
        rows = await connection.execute(text("SELECT payload FROM outbox WHERE type = 'suppression.lifted'"))
        payloads: list[Any] = [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]
    return sum(1 for payload in payloads if payload["suppression_id"] == entry_id)


async def test_a_new_persons_chain_goes_on_from_their_registration(fresh: Fresh) -> None:
    person = await register_someone(fresh.context)
    await _withdraw(fresh, person)
    report = await audit.verify(fresh.context)
    assert report.intact, report
