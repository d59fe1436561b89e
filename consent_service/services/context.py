"""What every use case is handed: the store, the clock, the fingerprint key and the catalogue in memory.

Every collaborator is always there. One a deployment goes without (the check cache, the opt-out
spool, metrics) is a stand-in that answers as its absence did (``NoAnswerCache``, ``NoSpool``,
``NoMetrics``), so a use case never branches on whether it was given one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from consent_service.domain.absent import NoAnswerCache, NoMetrics, NoSpool
from consent_service.domain.destinations import PUBLIC_HOSTS, Destinations
from consent_service.domain.fingerprints import Fingerprinter
from consent_service.domain.ports import Answers, Clock, Metrics, OptOutSpool, Results, Store
from consent_service.domain.purposes import Category, OrgType
from consent_service.domain.replication import Reads
from consent_service.domain.staff import Passwords
from consent_service.domain.streams import Stream, mail_streams
from consent_service.domain.tokens import LinkSigner
from consent_service.services.catalogue import CatalogueView
from consent_service.services.keys import KeyRing


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    clock: Clock
    fingerprint: Fingerprinter
    catalogue: CatalogueView
    links: LinkSigner
    passwords: Passwords
    #: Recognises the API key each request presents (the authentication middleware asks it).
    key_ring: KeyRing
    #: The store without the change feed, for writes that change no answer (feed positions): the
    #: store itself where there is no signal.
    bookkeeping: Store
    #: Use cases' results as text and back, kept under an idempotency key for its replays.
    results: Results
    #: Where checks read: the store itself, or with ``CONSENT_REPLICA_URL`` the replica whenever it has
    #: replayed every acknowledged write (domain/replication.py).
    check_reads: Reads
    default_region: str = "GB"
    check_timeout: float = 0.2
    answers: Answers = field(default_factory=NoAnswerCache)
    metrics: Metrics = field(default_factory=NoMetrics)
    #: Where a family's opt-out waits, on this host's disk, while the database is away.
    spool: OptOutSpool = field(default_factory=NoSpool)
    #: Where a webhook may be registered to send (checked again by the sender at each delivery).
    webhook_destinations: Destinations = PUBLIC_HOSTS
    #: What the organisation is in law (CONSENT_ORG_TYPE): which soft opt-in and categories it has.
    org_type: OrgType = OrgType.CHARITY
    #: The base of the links minted for families (CONSENT_PUBLIC_BASE_URL).
    public_base_url: str = "http://127.0.0.1:8000"
    #: The mailbox named after the HTTPS link in ``List-Unsubscribe`` (CONSENT_UNSUBSCRIBE_MAILTO).
    unsubscribe_mailto: str | None = None
    #: Each category's sender and ``List-Id`` (domain/streams.py).
    streams: Mapping[Category, Stream] = field(
        default_factory=lambda: mail_streams({}, "The organisation", "", None)
    )
