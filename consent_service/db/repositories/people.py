"""People and their contact points in SQL: looked up by id, reference, fingerprint, name or household.

Names and contact values are sealed on the way in and opened on the way out (``domain/sealing.py``);
nothing above this module sees a sealed value, and nothing below it a plain one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import ContactPointRow, PersonNameTermRow, PersonRow
from consent_service.db.repositories._sql import contacts_t, events_t, keyed, people_t, runs, upserts
from consent_service.db.sealed import contact_place, name_digests, name_place, postcode_digest
from consent_service.domain.channels import ContactKind
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.sealing import (
    SealedUnreadable,
    Sealer,
    name_matches,
    postcode_term,
    query_terms,
)

terms_t = PersonNameTermRow.__table__

_LINKED = keyed(
    select(contacts_t.c.fingerprint, people_t.c.id, people_t.c.erased_at).join(
        people_t, contacts_t.c.person_id == people_t.c.id
    ),
    contacts_t.c.fingerprint,
)


_ADD_PERSON = insert(PersonRow)


def _with_contacts(key: Any) -> Any:
    """The person whose ``key`` is the bound ``key``, and their contact points, in one statement: a row
    a contact point (one with none if they have none)."""
    return (
        select(people_t, *(column.label(f"contact_{column.name}") for column in contacts_t.c))
        .outerjoin(contacts_t, contacts_t.c.person_id == people_t.c.id)
        .where(key == bindparam("key"))
        .order_by(contacts_t.c.created_at)
    )


_PERSON_BY_ID = _with_contacts(people_t.c.id)
_PERSON_BY_REFERENCE = _with_contacts(people_t.c.reference)

# One statement for the usual case, a contact point new to the person; one already held is left as
# it is (and read back). A concurrent writer adding the same point is waited for, not an error.
_ADD_CONTACT = upserts(
    contacts_t,
    lambda insert_: insert_.on_conflict_do_nothing(index_elements=["person_id", "fingerprint"]).returning(
        contacts_t.c.id
    ),
)


class SqlPeople:
    def __init__(self, connection: AsyncConnection, sealer: Sealer) -> None:
        self._c = connection
        self._sealer = sealer

    def _sealed_name(self, person: Person) -> str | None:
        if person.display_name is None:
            return None
        return self._sealer.seal(person.display_name, name_place(person.id))

    def _name(self, row: Row[Any]) -> str | None:
        return None if row.display_name is None else self._sealer.open(row.display_name, name_place(row.id))

    def _contact(self, row: Row[Any]) -> RecordedContact:
        return self._opened(row.id, row.person_id, row.kind, row.value, row.fingerprint, row.created_at)

    def _opened(
        self, id_: str, person_id: str, kind: str, sealed: str, fingerprint: str, created_at: datetime
    ) -> RecordedContact:
        value = self._sealer.open(sealed, contact_place(id_))
        return RecordedContact(id_, person_id, ContactKind(kind), value, fingerprint, created_at)

    async def _index_name(self, person: Person, new: bool = False) -> None:
        if not new:
            await self._c.execute(delete(PersonNameTermRow).where(PersonNameTermRow.person_id == person.id))
        digests = name_digests(self._sealer, person.display_name)
        if digests:
            await self._c.execute(
                insert(PersonNameTermRow), [{"person_id": person.id, "term": d} for d in digests]
            )

    async def add(self, person: Person) -> None:
        # Statements given their values as parameters, not built per call (``_sql.py`` says why).
        await self._c.execute(
            _ADD_PERSON,
            {
                "id": person.id,
                "reference": person.reference,
                "household": person.household,
                "display_name": self._sealed_name(person),
                "created_at": person.created_at,
                "birth_month": person.birth_month,
            },
        )
        await self._index_name(person, new=True)

    async def _person(self, row: Row[Any] | None) -> Person | None:
        if row is None:
            return None
        contacts = await self._c.execute(
            select(contacts_t).where(contacts_t.c.person_id == row.id).order_by(contacts_t.c.created_at)
        )
        return self._made(row, tuple(self._contact(c) for c in contacts))

    def _made(self, row: Row[Any], contacts: tuple[RecordedContact, ...]) -> Person:
        return Person(
            row.id,
            row.created_at,
            row.reference,
            row.household,
            self._name(row),
            row.erased_at,
            contacts,
            row.birth_month,
        )

    async def get(self, person_id: str) -> Person | None:
        return await self._one(_PERSON_BY_ID, person_id)

    async def by_reference(self, reference: str) -> Person | None:
        return await self._one(_PERSON_BY_REFERENCE, reference)

    async def _one(self, statement: Any, key: str) -> Person | None:
        rows = (await self._c.execute(statement, {"key": key})).all()
        if not rows:
            return None
        contacts = tuple(
            self._opened(
                row.contact_id,
                row.contact_person_id,
                row.contact_kind,
                row.contact_value,
                row.contact_fingerprint,
                row.contact_created_at,
            )
            for row in rows
            if row.contact_id is not None
        )
        return self._made(rows[0], contacts)

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
        added = await self._c.execute(
            _ADD_CONTACT[self._c.dialect.name],
            {
                "id": contact.id,
                "person_id": contact.person_id,
                "kind": contact.kind.value,
                "value": self._sealer.seal(contact.value, contact_place(contact.id)),
                "fingerprint": contact.fingerprint,
                "created_at": contact.created_at,
                "postcode_index": postcode_digest(self._sealer, contact.kind.value, contact.value),
            },
        )
        if added.first() is not None:
            return contact
        held = select(contacts_t).where(
            contacts_t.c.person_id == contact.person_id, contacts_t.c.fingerprint == contact.fingerprint
        )
        return self._contact((await self._c.execute(held)).one())

    async def linked(self, fingerprints: Sequence[str]) -> dict[str, list[tuple[str, bool]]]:
        found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for statement, values in runs(_LINKED, fingerprints, self._c.dialect.name):
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
                display_name=self._sealed_name(person),
                birth_month=person.birth_month,
            )
        )
        await self._index_name(person)

    async def by_name(self, text: str, limit: int) -> list[Person]:
        # The index finds the names holding every run of letters of the search; opened, they are matched
        # whole and put in order here, as the database can no longer read them.
        digests = sorted({self._sealer.digest(term) for term in query_terms(text)})
        if not digests:
            return []
        candidates = (
            select(terms_t.c.person_id)
            .where(terms_t.c.term.in_(digests))
            .group_by(terms_t.c.person_id)
            .having(func.count(terms_t.c.term.distinct()) == len(digests))
        )
        rows = await self._c.execute(
            select(people_t).where(people_t.c.id.in_(candidates), people_t.c.erased_at.is_(None))
        )
        return await self._in_name_order(
            [row for row in rows.all() if name_matches(self._name(row), text)], limit
        )

    async def by_postcode(self, postcode: str, limit: int) -> list[Person]:
        at_postcode = select(contacts_t.c.person_id).where(
            contacts_t.c.kind == ContactKind.POSTAL.value,
            contacts_t.c.postcode_index == self._sealer.digest(postcode_term(postcode)),
        )
        rows = await self._c.execute(
            select(people_t).where(people_t.c.id.in_(at_postcode), people_t.c.erased_at.is_(None))
        )
        return await self._in_name_order(rows.all(), limit)

    async def _in_name_order(self, rows: Sequence[Row[Any]], limit: int) -> list[Person]:
        """The first ``limit`` by name, any case, people without a name last (as staff saw them before)."""
        named = sorted(
            rows, key=lambda row: ((name := self._name(row)) is None, (name or "").casefold(), row.id)
        )
        found = [await self._person(row) for row in named[:limit]]
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
        await self._c.execute(delete(PersonNameTermRow).where(PersonNameTermRow.person_id == person_id))
        await self._c.execute(
            update(PersonRow)
            .where(PersonRow.id == person_id)
            .values(reference=None, household=None, display_name=None, birth_month=None, erased_at=at)
        )

    async def opens_under_key(self) -> bool:
        newest = select(contacts_t).order_by(contacts_t.c.created_at.desc()).limit(1)
        row = (await self._c.execute(newest)).first()
        if row is None:
            return True
        try:
            self._contact(row)
        except SealedUnreadable:
            return False
        return True

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
