"""People and their contact points in SQL: looked up by id, reference, fingerprint, name or household."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ContactPointRow, PersonRow
from consent_service.db.repositories._sql import contacts_t, events_t, keyed, people_t, runs
from consent_service.domain.channels import ContactKind
from consent_service.domain.people import Person, RecordedContact

_LINKED = keyed(
    select(contacts_t.c.fingerprint, people_t.c.id, people_t.c.erased_at).join(
        people_t, contacts_t.c.person_id == people_t.c.id
    ),
    contacts_t.c.fingerprint,
)


class SqlPeople:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, person: Person) -> None:
        await self._c.execute(
            insert(PersonRow).values(
                id=person.id,
                reference=person.reference,
                household=person.household,
                display_name=person.display_name,
                created_at=person.created_at,
                birth_month=person.birth_month,
            )
        )

    async def _person(self, row: Row[Any] | None) -> Person | None:
        if row is None:
            return None
        contacts = await self._c.execute(
            select(contacts_t).where(contacts_t.c.person_id == row.id).order_by(contacts_t.c.created_at)
        )
        return Person(
            row.id,
            row.created_at,
            row.reference,
            row.household,
            row.display_name,
            row.erased_at,
            tuple(
                RecordedContact(c.id, c.person_id, ContactKind(c.kind), c.value, c.fingerprint, c.created_at)
                for c in contacts
            ),
            row.birth_month,
        )

    async def get(self, person_id: str) -> Person | None:
        row = (await self._c.execute(select(people_t).where(people_t.c.id == person_id))).first()
        return await self._person(row)

    async def by_reference(self, reference: str) -> Person | None:
        row = (await self._c.execute(select(people_t).where(people_t.c.reference == reference))).first()
        return await self._person(row)

    async def by_fingerprint(self, fingerprint: str) -> list[Person]:
        rows = await self._c.execute(
            select(people_t)
            .join(contacts_t, contacts_t.c.person_id == people_t.c.id)
            .where(contacts_t.c.fingerprint == fingerprint)
            .distinct()
        )
        found = [await self._person(row) for row in rows.all()]
        return [person for person in found if person is not None]

    async def add_contact(self, contact: RecordedContact) -> RecordedContact:
        existing = (
            await self._c.execute(
                select(contacts_t).where(
                    contacts_t.c.person_id == contact.person_id,
                    contacts_t.c.fingerprint == contact.fingerprint,
                )
            )
        ).first()
        if existing is not None:
            return RecordedContact(
                existing.id,
                existing.person_id,
                ContactKind(existing.kind),
                existing.value,
                existing.fingerprint,
                existing.created_at,
            )
        await self._c.execute(
            insert(ContactPointRow).values(
                id=contact.id,
                person_id=contact.person_id,
                kind=contact.kind.value,
                value=contact.value,
                fingerprint=contact.fingerprint,
                created_at=contact.created_at,
            )
        )
        return contact

    async def linked(self, fingerprints: Sequence[str]) -> dict[str, list[tuple[str, bool]]]:
        found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for statement, values in runs(_LINKED, fingerprints):
            for fingerprint, person_id, erased_at in await self._c.execute(statement, values):
                found[fingerprint].append((person_id, erased_at is not None))
        return found

    async def update(self, person: Person) -> None:
        await self._c.execute(
            update(PersonRow)
            .where(PersonRow.id == person.id)
            .values(
                reference=person.reference,
                household=person.household,
                display_name=person.display_name,
                birth_month=person.birth_month,
            )
        )

    async def by_name(self, text: str, limit: int) -> list[Person]:
        rows = await self._c.execute(
            select(people_t)
            .where(
                func.lower(people_t.c.display_name).contains(text.lower(), autoescape=True),
                people_t.c.erased_at.is_(None),
            )
            .order_by(people_t.c.display_name)
            .limit(limit)
        )
        found = [await self._person(row) for row in rows.all()]
        return [person for person in found if person is not None]

    async def by_postcode(self, postcode: str, limit: int) -> list[Person]:
        # A postal point is held as "postcode|first line" (domain/contacts.py), so its postcode is a prefix.
        rows = await self._c.execute(
            select(people_t)
            .join(contacts_t, contacts_t.c.person_id == people_t.c.id)
            .where(
                contacts_t.c.kind == ContactKind.POSTAL.value,
                contacts_t.c.value.startswith(f"{postcode}|", autoescape=True),
                people_t.c.erased_at.is_(None),
            )
            .distinct()
            .order_by(people_t.c.display_name)
            .limit(limit)
        )
        found = [await self._person(row) for row in rows.all()]
        return [person for person in found if person is not None]

    async def remove_contact(self, person_id: str, contact_id: str) -> bool:
        result = await self._c.execute(
            delete(ContactPointRow).where(
                ContactPointRow.person_id == person_id, ContactPointRow.id == contact_id
            )
        )
        return bool(result.rowcount)

    async def household(self, household: str) -> list[Person]:
        rows = await self._c.execute(
            select(people_t).where(people_t.c.household == household).order_by(people_t.c.created_at)
        )
        found = [await self._person(row) for row in rows.all()]
        return [person for person in found if person is not None]

    async def erase(self, person_id: str, at: datetime) -> None:
        await self._c.execute(delete(ContactPointRow).where(ContactPointRow.person_id == person_id))
        await self._c.execute(
            update(PersonRow)
            .where(PersonRow.id == person_id)
            .values(reference=None, household=None, display_name=None, birth_month=None, erased_at=at)
        )

    async def inactive_since(self, cutoff: datetime) -> list[str]:
        recent = select(events_t.c.person_id).where(events_t.c.recorded_at >= cutoff)
        rows = await self._c.execute(
            select(people_t.c.id)
            .where(
                people_t.c.erased_at.is_(None),
                people_t.c.created_at < cutoff,
                people_t.c.id.not_in(recent),
            )
            .order_by(people_t.c.created_at)
        )
        return [row.id for row in rows]
