"""Repositories over one connection (one transaction), mapping rows to domain objects and back.

One module per aggregate; the unit of work gathers them over the connection of a transaction.
"""

from consent_service.db.repositories.catalogue import SqlCatalogue
from consent_service.db.repositories.idempotency import SqlIdempotency
from consent_service.db.repositories.keys import SqlApiKeys
from consent_service.db.repositories.ledger import SqlLedger
from consent_service.db.repositories.people import SqlPeople
from consent_service.db.repositories.provider_events import SqlProviderEvents
from consent_service.db.repositories.restrictions import SqlRestrictions
from consent_service.db.repositories.staff import SqlStaffAccounts
from consent_service.db.repositories.suppressions import SqlSuppressions
from consent_service.db.repositories.unit_of_work import SqlUnitOfWork

__all__ = [
    "SqlApiKeys",
    "SqlCatalogue",
    "SqlIdempotency",
    "SqlLedger",
    "SqlPeople",
    "SqlProviderEvents",
    "SqlRestrictions",
    "SqlStaffAccounts",
    "SqlSuppressions",
    "SqlUnitOfWork",
]
