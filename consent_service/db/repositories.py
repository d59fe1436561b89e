"""Repositories over one connection (one transaction), mapping rows to domain objects and back."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from consent_service.db.models import (
    ApiKeyRow,
    ConsentEventRow,
    ContactPointRow,
    CurrentConsentRow,
    IdempotencyRow,
    LedgerHeadRow,
    NoticeRow,
    OutboxRow,
    PersonRow,
    ProviderEventRow,
    PurposeRow,
    RestrictionRow,
    StaffAccountRow,
    SuppressionRow,
)
from consent_service.db.outbox import SqlOutbox, SqlWebhooks
from consent_service.domain.changes import Change, ChangeType
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.keys import ApiKey, Scope
from consent_service.domain.ledger import (
    GENESIS_HASH,
    ConsentEvent,
    CurrentConsent,
    Decision,
    Evidence,
    Source,
)
from consent_service.domain.notices import NoticeVersion, text_digest
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.restrictions import Restriction
from consent_service.domain.staff import StaffAccount
from consent_service.domain.suppressions import Scope as SuppressionScope
from consent_service.domain.suppressions import Suppression, SuppressionReason

# Batches stay well under SQLite's and asyncpg's bound-parameter limits.
BATCH = 1000

people_t = PersonRow.__table__
contacts_t = ContactPointRow.__table__
events_t = ConsentEventRow.__table__
current_t = CurrentConsentRow.__table__
suppressions_t = SuppressionRow.__table__
restrictions_t = RestrictionRow.__table__


def _channel_in(channel: Channel | None) -> str:
    return channel.value if channel else ""


def _channel_out(value: str) -> Channel | None:
    return Channel(value) if value else None


def _batches(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


# A check (the hot path) asks about one address. Its statements are built once, here, and differ per
# call only in their parameters: building a statement per call (its objects, its cache key) and
# expanding an IN list cost more in Python than PostgreSQL takes to answer. Each comes in two forms:
# for one value, by equality, and for a batch of values, by IN.
Keyed = tuple[Select[Any], Select[Any]]


def _keyed(statement: Select[Any], key: ColumnElement[str]) -> Keyed:
    one = statement.where(key == bindparam("value"))
    return one, statement.where(key.in_(bindparam("values", expanding=True)))


def _runs(keyed: Keyed, values: Sequence[str], **fixed: Any) -> list[tuple[Select[Any], dict[str, Any]]]:
    """Each statement to run for ``values``, with its parameters."""
    one, many = keyed
    if len(values) == 1:
        return [(one, {"value": values[0], **fixed})]
    return [(many, {"values": batch, **fixed}) for batch in _batches(values)]


_LINKED = _keyed(
    select(contacts_t.c.fingerprint, people_t.c.id, people_t.c.erased_at).join(
        people_t, contacts_t.c.person_id == people_t.c.id
    ),
    contacts_t.c.fingerprint,
)
_CURRENT = _keyed(select(current_t), current_t.c.person_id)
_CURRENT_OF_PURPOSE = _keyed(
    select(current_t).where(
        current_t.c.purpose == bindparam("purpose"), current_t.c.channel == bindparam("channel")
    ),
    current_t.c.person_id,
)
_SUPPRESSIONS_BY_CHANNEL = select(suppressions_t).where(
    or_(suppressions_t.c.channel == bindparam("channel"), suppressions_t.c.channel == "all")
)
_SUPPRESSIONS = _keyed(
    _SUPPRESSIONS_BY_CHANNEL.order_by(suppressions_t.c.effective_at), suppressions_t.c.fingerprint
)
_SUPPRESSIONS_IN_FORCE = _keyed(
    _SUPPRESSIONS_BY_CHANNEL.where(suppressions_t.c.lifted_at.is_(None)).order_by(
        suppressions_t.c.effective_at
    ),
    suppressions_t.c.fingerprint,
)
_RESTRICTIONS = _keyed(
    select(restrictions_t).order_by(restrictions_t.c.created_at), restrictions_t.c.person_id
)


class SqlCatalogue:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def purposes(self) -> list[Purpose]:
        rows = await self._c.execute(select(PurposeRow.__table__).order_by(PurposeRow.code))
        return [
            Purpose(
                row.code,
                Category(row.category),
                {_channel_out(ch): Basis(basis) for ch, basis in row.bases.items()},
                row.description,
            )
            for row in rows
        ]

    async def add_purpose(self, purpose: Purpose, at: datetime) -> None:
        await self._c.execute(
            insert(PurposeRow).values(
                code=purpose.code,
                category=purpose.category.value,
                bases={_channel_in(ch): basis.value for ch, basis in purpose.bases.items()},
                description=purpose.description,
                created_at=at,
            )
        )

    async def notices(self, purpose: str | None = None) -> list[NoticeVersion]:
        query = select(NoticeRow.__table__).order_by(NoticeRow.purpose, NoticeRow.version)
        if purpose is not None:
            query = query.where(NoticeRow.purpose == purpose)
        return [
            NoticeVersion(r.id, r.purpose, r.version, r.language, r.text, r.sha256, r.published_at)
            for r in await self._c.execute(query)
        ]

    async def add_notice(
        self, purpose: str, text: str, language: str, published_at: datetime
    ) -> NoticeVersion:
        latest = await self._c.scalar(select(func.max(NoticeRow.version)).where(NoticeRow.purpose == purpose))
        notice = NoticeVersion(
            str(uuid.uuid4()), purpose, (latest or 0) + 1, language, text, text_digest(text), published_at
        )
        await self._c.execute(
            insert(NoticeRow).values(
                id=notice.id,
                purpose=purpose,
                version=notice.version,
                language=language,
                text=text,
                sha256=notice.sha256,
                published_at=published_at,
            )
        )
        return notice


class SqlPeople:
    def __init__(self, connection: AsyncConnection, changes: list[Change]) -> None:
        self._c = connection
        self._changes = changes

    async def add(self, person: Person) -> None:
        await self._c.execute(
            insert(PersonRow).values(
                id=person.id,
                reference=person.reference,
                household=person.household,
                display_name=person.display_name,
                created_at=person.created_at,
            )
        )
        self._changes.append(Change(ChangeType.PERSON_CREATED, person.created_at, {"person_id": person.id}))

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
        self._changes.append(
            Change(
                ChangeType.CONTACT_ADDED,
                contact.created_at,
                {
                    "person_id": contact.person_id,
                    "kind": contact.kind.value,
                    "fingerprint": contact.fingerprint,
                },
            )
        )
        return contact

    async def linked(self, fingerprints: Sequence[str]) -> dict[str, list[tuple[str, bool]]]:
        found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for statement, values in _runs(_LINKED, fingerprints):
            for fingerprint, person_id, erased_at in await self._c.execute(statement, values):
                found[fingerprint].append((person_id, erased_at is not None))
        return found

    async def update(self, person: Person) -> None:
        await self._c.execute(
            update(PersonRow)
            .where(PersonRow.id == person.id)
            .values(reference=person.reference, household=person.household, display_name=person.display_name)
        )
        self._changes.append(Change(ChangeType.PERSON_UPDATED, datetime.now(UTC), {"person_id": person.id}))

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
            .values(reference=None, household=None, display_name=None, erased_at=at)
        )
        self._changes.append(Change(ChangeType.PERSON_ERASED, at, {"person_id": person_id}))

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


def _event(row: Row[Any]) -> ConsentEvent:
    return ConsentEvent(
        id=row.id,
        seq=row.seq,
        person_id=row.person_id,
        purpose=row.purpose,
        channel=_channel_out(row.channel),
        decision=Decision(row.decision),
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        source=Source(row.source),
        actor=row.actor,
        notice_id=row.notice_id,
        evidence=Evidence(**row.evidence),
        evidence_hash=row.evidence_hash,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _current(row: Row[Any]) -> CurrentConsent:
    return CurrentConsent(
        row.purpose,
        _channel_out(row.channel),
        Decision(row.decision),
        row.effective_at,
        row.event_id,
        row.notice_id,
        Source(row.source),
        row.collection_context,
    )


class SqlLedger:
    def __init__(self, connection: AsyncConnection, dialect: str, changes: list[Change]) -> None:
        self._c = connection
        self._dialect = dialect
        self._changes = changes

    async def head_for_update(self) -> tuple[int, str]:
        head = LedgerHeadRow.__table__
        row = (await self._c.execute(select(head).where(head.c.id == 1).with_for_update())).first()
        if row is None:
            await self._c.execute(insert(LedgerHeadRow).values(id=1, seq=0, hash=GENESIS_HASH))
            return 0, GENESIS_HASH
        return row.seq, row.hash

    async def set_head(self, seq: int, hash_: str) -> None:
        await self._c.execute(update(LedgerHeadRow).where(LedgerHeadRow.id == 1).values(seq=seq, hash=hash_))

    async def append(self, event: ConsentEvent) -> None:
        await self._c.execute(
            insert(ConsentEventRow).values(
                id=event.id,
                seq=event.seq,
                person_id=event.person_id,
                purpose=event.purpose,
                channel=_channel_in(event.channel),
                decision=event.decision.value,
                effective_at=event.effective_at,
                recorded_at=event.recorded_at,
                source=event.source.value,
                actor=event.actor,
                notice_id=event.notice_id,
                evidence=event.evidence.as_dict(),
                evidence_hash=event.evidence_hash,
                prev_hash=event.prev_hash,
                hash=event.hash,
            )
        )
        self._changes.append(
            Change(
                ChangeType.CONSENT_RECORDED,
                event.recorded_at,
                {
                    "event_id": event.id,
                    "person_id": event.person_id,
                    "purpose": event.purpose,
                    "channel": event.channel.value if event.channel else None,
                    "decision": event.decision.value,
                    "effective_at": _iso(event.effective_at),
                    "source": event.source.value,
                    "notice_id": event.notice_id,
                },
            )
        )

    async def events(self, person_ids: Sequence[str], purpose: str | None = None) -> list[ConsentEvent]:
        found: list[ConsentEvent] = []
        for batch in _batches(person_ids):
            query = select(events_t).where(events_t.c.person_id.in_(batch))
            if purpose is not None:
                query = query.where(events_t.c.purpose == purpose)
            found.extend(_event(row) for row in await self._c.execute(query))
        return sorted(found, key=lambda e: e.seq)

    async def current(
        self, person_ids: Sequence[str], purpose: str | None = None, channel: Channel | None = None
    ) -> dict[str, list[CurrentConsent]]:
        found: dict[str, list[CurrentConsent]] = defaultdict(list)
        keyed = _CURRENT if purpose is None else _CURRENT_OF_PURPOSE
        for statement, values in _runs(keyed, person_ids, purpose=purpose, channel=_channel_in(channel)):
            for row in await self._c.execute(statement, values):
                found[row.person_id].append(_current(row))
        return found

    async def erase_evidence(self, person_id: str) -> None:
        await self._c.execute(
            update(ConsentEventRow).where(ConsentEventRow.person_id == person_id).values(evidence={})
        )

    async def chain(self, after_seq: int, limit: int) -> list[tuple[ConsentEvent, bool]]:
        rows = await self._c.execute(
            select(events_t, people_t.c.erased_at)
            .join(people_t, people_t.c.id == events_t.c.person_id)
            .where(events_t.c.seq > after_seq)
            .order_by(events_t.c.seq)
            .limit(limit)
        )
        return [(_event(row), row.erased_at is not None) for row in rows]

    async def head(self) -> tuple[int, str]:
        head = LedgerHeadRow.__table__
        row = (await self._c.execute(select(head).where(head.c.id == 1))).first()
        return (row.seq, row.hash) if row else (0, GENESIS_HASH)

    async def save_current(self, person_id: str, consent: CurrentConsent) -> None:
        values = {
            "decision": consent.decision.value,
            "effective_at": consent.effective_at,
            "event_id": consent.event_id,
            "notice_id": consent.notice_id,
            "source": consent.source.value,
            "collection_context": consent.collection_context,
        }
        key = {"person_id": person_id, "purpose": consent.purpose, "channel": _channel_in(consent.channel)}
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = dialect_insert(CurrentConsentRow).values(**key, **values)
        await self._c.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))

    async def current_page(
        self, after: tuple[str, str, str] | None, limit: int
    ) -> list[tuple[str, str | None, CurrentConsent]]:
        c = current_t.c
        query = (
            select(current_t, people_t.c.reference)
            .join(people_t, people_t.c.id == c.person_id)
            .where(people_t.c.erased_at.is_(None))
        )
        if after is not None:
            person_id, purpose, channel = after
            query = query.where(
                or_(
                    c.person_id > person_id,
                    and_(c.person_id == person_id, c.purpose > purpose),
                    and_(c.person_id == person_id, c.purpose == purpose, c.channel > channel),
                )
            )
        query = query.order_by(c.person_id, c.purpose, c.channel).limit(limit)
        return [(row.person_id, row.reference, _current(row)) for row in await self._c.execute(query)]


def _suppression(row: Row[Any]) -> Suppression:
    return Suppression(
        id=row.id,
        fingerprint=row.fingerprint,
        channel=None if row.channel == "all" else Channel(row.channel),
        scope=SuppressionScope(row.scope),
        reason=SuppressionReason(row.reason),
        purpose=row.purpose,
        source=row.source,
        actor=row.actor,
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        note=row.note,
        lifted_at=row.lifted_at,
        lift_reason=row.lift_reason,
        lifted_by=row.lifted_by,
    )


class SqlSuppressions:
    def __init__(self, connection: AsyncConnection, changes: list[Change]) -> None:
        self._c = connection
        self._changes = changes

    async def add(self, entry: Suppression) -> None:
        await self._c.execute(
            insert(SuppressionRow).values(
                id=entry.id,
                fingerprint=entry.fingerprint,
                channel=entry.channel.value if entry.channel else "all",
                scope=entry.scope.value,
                reason=entry.reason.value,
                purpose=entry.purpose,
                source=entry.source,
                actor=entry.actor,
                note=entry.note,
                effective_at=entry.effective_at,
                recorded_at=entry.recorded_at,
            )
        )
        self._changes.append(
            Change(
                ChangeType.SUPPRESSION_ADDED,
                entry.recorded_at,
                {
                    "suppression_id": entry.id,
                    "fingerprint": entry.fingerprint,
                    "channel": entry.channel.value if entry.channel else "all",
                    "scope": entry.scope.value,
                    "reason": entry.reason.value,
                    "purpose": entry.purpose,
                    "effective_at": _iso(entry.effective_at),
                },
            )
        )

    async def get(self, entry_id: str) -> Suppression | None:
        row = (await self._c.execute(select(suppressions_t).where(suppressions_t.c.id == entry_id))).first()
        return _suppression(row) if row else None

    async def lift(self, entry_id: str, at: datetime, reason: str, by: str) -> None:
        lifted = await self._c.execute(
            update(SuppressionRow)
            .where(SuppressionRow.id == entry_id, SuppressionRow.lifted_at.is_(None))
            .values(lifted_at=at, lift_reason=reason, lifted_by=by)
        )
        if lifted.rowcount:
            self._changes.append(Change(ChangeType.SUPPRESSION_LIFTED, at, {"suppression_id": entry_id}))

    async def for_fingerprints(
        self, fingerprints: Sequence[str], channel: Channel | None, include_lifted: bool
    ) -> dict[str, list[Suppression]]:
        found: dict[str, list[Suppression]] = defaultdict(list)
        keyed = _SUPPRESSIONS if include_lifted else _SUPPRESSIONS_IN_FORCE
        # An entry for every channel ("all") answers for each; with no channel, only those do.
        for statement, values in _runs(keyed, fingerprints, channel=channel.value if channel else "all"):
            for row in await self._c.execute(statement, values):
                found[row.fingerprint].append(_suppression(row))
        return found

    async def page(
        self,
        channel: Channel | None,
        reason: SuppressionReason | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Suppression]:
        query = select(suppressions_t)
        if channel is not None:
            query = query.where(suppressions_t.c.channel == channel.value)
        if reason is not None:
            query = query.where(suppressions_t.c.reason == reason.value)
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(
                    suppressions_t.c.recorded_at > at,
                    and_(suppressions_t.c.recorded_at == at, suppressions_t.c.id > last_id),
                )
            )
        query = query.order_by(suppressions_t.c.recorded_at, suppressions_t.c.id).limit(limit)
        return [_suppression(row) for row in await self._c.execute(query)]


def _restriction(row: Row[Any]) -> Restriction:
    return Restriction(
        id=row.id,
        person_id=row.person_id,
        fingerprint=row.fingerprint,
        channel=None if row.channel == "all" else Channel(row.channel),
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        lifted_at=row.lifted_at,
        lift_reason=row.lift_reason,
        lifted_by=row.lifted_by,
    )


class SqlRestrictions:
    def __init__(self, connection: AsyncConnection, changes: list[Change]) -> None:
        self._c = connection
        self._changes = changes

    async def add(self, restriction: Restriction) -> None:
        await self._c.execute(
            insert(RestrictionRow).values(
                id=restriction.id,
                person_id=restriction.person_id,
                fingerprint=restriction.fingerprint,
                channel=restriction.channel.value if restriction.channel else "all",
                reason=restriction.reason,
                created_by=restriction.created_by,
                created_at=restriction.created_at,
            )
        )
        self._changes.append(
            Change(
                ChangeType.RESTRICTION_ADDED,
                restriction.created_at,
                {
                    "restriction_id": restriction.id,
                    "person_id": restriction.person_id,
                    "fingerprint": restriction.fingerprint,
                    "channel": restriction.channel.value if restriction.channel else "all",
                },
            )
        )

    async def get(self, restriction_id: str) -> Restriction | None:
        row = (
            await self._c.execute(select(restrictions_t).where(restrictions_t.c.id == restriction_id))
        ).first()
        return _restriction(row) if row else None

    async def lift(self, restriction_id: str, at: datetime, reason: str, by: str) -> None:
        lifted = await self._c.execute(
            update(RestrictionRow)
            .where(RestrictionRow.id == restriction_id, RestrictionRow.lifted_at.is_(None))
            .values(lifted_at=at, lift_reason=reason, lifted_by=by)
        )
        if lifted.rowcount:
            self._changes.append(
                Change(ChangeType.RESTRICTION_LIFTED, at, {"restriction_id": restriction_id})
            )

    async def for_people(self, person_ids: Sequence[str]) -> list[Restriction]:
        found: list[Restriction] = []
        for statement, values in _runs(_RESTRICTIONS, person_ids):
            found.extend(_restriction(row) for row in await self._c.execute(statement, values))
        return found

    async def erase_reasons(self, person_id: str) -> None:
        await self._c.execute(
            update(RestrictionRow)
            .where(RestrictionRow.person_id == person_id)
            .values(reason="(erased)", lift_reason=None, fingerprint=None)
        )


class SqlStaffAccounts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, account: StaffAccount) -> None:
        await self._c.execute(
            insert(StaffAccountRow).values(
                id=account.id,
                username=account.username,
                display_name=account.display_name,
                password_hash=account.password_hash,
                created_at=account.created_at,
            )
        )

    async def by_username(self, username: str) -> StaffAccount | None:
        table = StaffAccountRow.__table__
        row = (await self._c.execute(select(table).where(table.c.username == username))).first()
        if row is None:
            return None
        return StaffAccount(
            row.id, row.username, row.display_name, row.password_hash, row.created_at, row.disabled_at
        )

    async def disable(self, username: str, at: datetime) -> bool:
        result = await self._c.execute(
            update(StaffAccountRow)
            .where(StaffAccountRow.username == username, StaffAccountRow.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        return bool(result.rowcount)


class SqlApiKeys:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, key: ApiKey, digest: str) -> None:
        await self._c.execute(
            insert(ApiKeyRow).values(
                id=key.id,
                name=key.name,
                digest=digest,
                scopes=" ".join(sorted(key.scopes)),
                created_at=key.created_at,
            )
        )

    async def by_digest(self, digest: str) -> ApiKey | None:
        table = ApiKeyRow.__table__
        row = (await self._c.execute(select(table).where(table.c.digest == digest))).first()
        if row is None:
            return None
        scopes = frozenset(Scope(s) for s in row.scopes.split())
        return ApiKey(row.id, row.name, scopes, row.created_at, row.revoked_at)

    async def count(self) -> int:
        return int(await self._c.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


class SqlIdempotency:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def claim(
        self, owner: str, key: str, request_digest: str, at: datetime
    ) -> tuple[str, int, str] | None:
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        # On PostgreSQL a concurrent claim of the same key waits here until the first one commits.
        inserted = await self._c.execute(
            dialect_insert(IdempotencyRow)
            .values(owner=owner, key=key, request_digest=request_digest, status=0, body="", created_at=at)
            .on_conflict_do_nothing()
        )
        if inserted.rowcount == 1:
            return None
        table = IdempotencyRow.__table__
        row = (await self._c.execute(select(table).where(table.c.owner == owner, table.c.key == key))).one()
        return row.request_digest, row.status, row.body

    async def complete(self, owner: str, key: str, status: int, body: str) -> None:
        await self._c.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.owner == owner, IdempotencyRow.key == key)
            .values(status=status, body=body)
        )

    async def forget_mentioning(self, text: str) -> None:
        await self._c.execute(
            delete(IdempotencyRow).where(IdempotencyRow.body.contains(text, autoescape=True))
        )


class SqlProviderEvents:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def claim(self, provider: str, event_id: str, at: datetime) -> bool:
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        inserted = await self._c.execute(
            dialect_insert(ProviderEventRow)
            .values(provider=provider, event_id=event_id, received_at=at)
            .on_conflict_do_nothing()
        )
        return inserted.rowcount == 1


class SqlUnitOfWork:
    """Every repository over the one connection of a transaction."""

    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        #: What this transaction changed, for the outbox: written just before it commits.
        self.changes: list[Change] = []
        self._c = connection
        self.catalogue = SqlCatalogue(connection)
        self.people = SqlPeople(connection, self.changes)
        self.ledger = SqlLedger(connection, dialect, self.changes)
        self.suppressions = SqlSuppressions(connection, self.changes)
        self.restrictions = SqlRestrictions(connection, self.changes)
        self.staff = SqlStaffAccounts(connection)
        self.keys = SqlApiKeys(connection)
        self.idempotency = SqlIdempotency(connection, dialect)
        self.provider_events = SqlProviderEvents(connection, dialect)
        self.outbox = SqlOutbox(connection, dialect)
        self.webhooks = SqlWebhooks(connection)

    async def write_outbox(self) -> None:
        if self.changes:
            await self._c.execute(
                insert(OutboxRow),
                [
                    {"id": c.id, "type": c.type.value, "occurred_at": c.occurred_at, "payload": c.data}
                    for c in self.changes
                ],
            )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
