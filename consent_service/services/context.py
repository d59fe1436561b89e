"""What every use case is handed: the store, the clock, the fingerprint key and the catalogue in memory."""

from __future__ import annotations

from dataclasses import dataclass

from consent_service.domain.destinations import PUBLIC_HOSTS, Destinations
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.domain.ports import Clock, Metrics, OptOutSpool, Store
from consent_service.domain.staff import Passwords
from consent_service.domain.tokens import LinkSigner
from consent_service.services.answers import AnswerCache
from consent_service.services.catalogue import CatalogueView


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    clock: Clock
    fingerprint: Fingerprinter
    catalogue: CatalogueView
    links: LinkSigner
    passwords: Passwords
    default_region: str = "GB"
    check_timeout: float = 0.2
    answers: AnswerCache | None = None
    #: The store without the change signal, for writes that change no answer (feed positions).
    bookkeeping: Store | None = None
    metrics: Metrics | None = None
    #: Where a family's opt-out waits, on this host's disk, while the database is away.
    spool: OptOutSpool | None = None
    #: Where a webhook may be registered to send (checked again by the sender at each delivery).
    webhook_destinations: Destinations = PUBLIC_HOSTS
