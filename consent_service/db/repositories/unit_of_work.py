"""The unit of work: every repository over the one connection of a transaction, and its outbox rows."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.models import OutboxRow
from consent_service.db.outbox import SqlOutbox, SqlWebhooks
from consent_service.db.repositories.access import SqlAccessRequests, SqlLegalHolds
from consent_service.db.repositories.catalogue import SqlCatalogue
from consent_service.db.repositories.check_facts import SqlCheckFacts
from consent_service.db.repositories.checkpoints import SqlCheckpoints
from consent_service.db.repositories.idempotency import SqlIdempotency
from consent_service.db.repositories.keys import SqlApiKeys
from consent_service.db.repositories.ledger import SqlLedger
from consent_service.db.repositories.people import SqlPeople
from consent_service.db.repositories.provider_events import SqlProviderEvents
from consent_service.db.repositories.restrictions import SqlRestrictions
from consent_service.db.repositories.staff import SqlStaffAccounts
from consent_service.db.repositories.suppressions import SqlSuppressions
from consent_service.db.repositories.tps import SqlTps
from consent_service.domain.changes import Change
from consent_service.domain.sealing import Sealer


class SqlUnitOfWork:
    """Every repository over the one connection of a transaction, and the changes it announces."""

    def __init__(self, connection: AsyncConnection, dialect: str, sealer: Sealer) -> None:
        #: What the use case said this transaction changed, for the outbox: written just before it
        #: commits, and handed to the commit listeners once it has.
        self.changes: list[Change] = []
        self._c = connection
        self.catalogue = SqlCatalogue(connection)
        self.people = SqlPeople(connection, sealer)
        self.ledger = SqlLedger(connection, dialect)
        self.checkpoints = SqlCheckpoints(connection)
        self.suppressions = SqlSuppressions(connection)
        self.restrictions = SqlRestrictions(connection)
        self.check_facts = SqlCheckFacts(connection, dialect)
        self.tps = SqlTps(connection, dialect)
        self.access_requests = SqlAccessRequests(connection)
        self.legal_holds = SqlLegalHolds(connection)
        self.staff = SqlStaffAccounts(connection)
        self.keys = SqlApiKeys(connection)
        self.idempotency = SqlIdempotency(connection, dialect, sealer)
        self.provider_events = SqlProviderEvents(connection, dialect)
        self.outbox = SqlOutbox(connection, dialect)
        self.webhooks = SqlWebhooks(connection)

    def emit(self, change: Change) -> None:
        self.changes.append(change)

    async def write_outbox(self) -> None:
        if self.changes:
            await self._c.execute(
                insert(OutboxRow),
                [
                    {"id": c.id, "type": c.type.value, "occurred_at": c.occurred_at, "payload": c.data}
                    for c in self.changes
                ],
            )
