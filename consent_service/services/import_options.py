"""What an import is asked to do, and what it reports back.

Kept apart from the import itself because the consent writer, which records one row at a time,
counts into the same report and obeys the same options as the import that drives it. Callers reach
these through ``services.imports``, which exports them with the imports themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from consent_service.domain.csv_rows import RowError
from consent_service.domain.csv_suppressions import SuppressionFormat
from consent_service.domain.ledger import AffirmativeAction, Source

__all__ = [
    "ACTOR",
    "IMPORT_SOURCES",
    "ConsentImport",
    "ConsentOptions",
    "ImportReport",
    "SuppressionImport",
    "SuppressionOptions",
]

ACTOR = "consent-service import"
#: Sources an import may vouch for: not the service's own pages, which record their choices themselves.
IMPORT_SOURCES = tuple(s for s in Source if s not in (Source.UNSUBSCRIBE_LINK, Source.PREFERENCE_CENTRE))


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    bad: list[RowError] = field(default_factory=list)
    #: False when nothing was written: a dry run, or bad rows without --skip-bad-rows.
    written: bool = False
    #: Rows written (committed) before the import stopped, and where and why it stopped.
    committed_rows: int = 0
    stopped: RowError | None = None


@dataclass(frozen=True, slots=True)
class SuppressionOptions:
    format: SuppressionFormat = SuppressionFormat.GENERIC
    skip_bad_rows: bool = False
    dry_run: bool = False
    actor: str = ACTOR
    source: str = "import"
    #: Days the Fundraising Regulator allows to act on an FPS request (CONSENT_FPS_DEADLINE_DAYS).
    fps_deadline_days: int = 28


@dataclass(slots=True)
class SuppressionImport(ImportReport):
    added: int = 0
    #: An entry in force with the same fingerprint, channel, scope and reason exists.
    present: int = 0
    #: Such an entry was lifted by staff after the row's own time: the later decision stands.
    lifted_since: int = 0
    #: The same entry appears earlier in the file.
    repeated: int = 0
    #: Lines of FPS requests added (or, in a dry run, to add) after their deadline had passed.
    late: list[int] = field(default_factory=list)
    #: Columns of the file read past and kept nowhere (``domain/csv_suppressions.py: NOT_KEPT``).
    not_kept: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ConsentOptions:
    source: Source
    #: The notice version the organisation vouches each purpose's choices were made under.
    notices: Mapping[str, int]
    skip_bad_rows: bool = False
    dry_run: bool = False
    actor: str = ACTOR
    staff_member: str | None = None
    note: str = "imported from a CSV file"
    #: How the people agreed, as the organisation vouches: needed for a file that grants; each grant is
    #: recorded with it, and as not pre-ticked (UK GDPR Art 4(11), Recital 32).
    affirmative_action: AffirmativeAction | None = None


@dataclass(slots=True)
class ConsentImport(ImportReport):
    people_created: int = 0
    contacts_added: int = 0
    events: int = 0
    #: The current state already had the row's decision.
    unchanged: int = 0
    #: A later choice is on record; the row's older one is not replayed.
    superseded: int = 0
    #: Grants recorded with source ``import`` because a suppression stands for the person's address.
    kept_suppressed: int = 0
