"""What a check decides on, read in one statement: the people holding each address, the address's
suppressions in force, those people's current choices for the purpose and channel, and their
restrictions.

Read one table at a time, a check that missed the answer cache sent four statements (five on SQLite,
with its BEGIN), and each cost more of this process's CPU (SQLAlchemy's execution, the driver, and on
SQLite a hop to aiosqlite's thread and back for the statement and again for its rows) than the
database took to answer it. So the four reads are one ``UNION ALL``, built once per form at import
(``_sql.py`` says why), its rows tagged by what they are. The people's choices and restrictions are
found from the addresses inside the statement (``person_id IN`` the people holding them), so the
statement needs nothing from an earlier one.

A ``UNION ALL`` has one set of column types, those of its first part: every part puts its values in
the columns of the suppressions table, whose order it follows, a text where a text is, a time where a
time is (so every time comes back aware, ``models.py: UTCDateTime``) and the JSON where the JSON is;
the columns a part has no value for are NULL. So a suppression row reads by the suppressions table's
column names, as ``suppressions.py`` reads it, and the other parts read by position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import (
    CompoundSelect,
    Integer,
    String,
    bindparam,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from consent_service.db.repositories._sql import (
    FORMS,
    Keyed,
    channel_out,
    contacts_t,
    current_t,
    from_value,
    matching,
    people_t,
    restrictions_t,
    runs,
    suppressions_t,
)
from consent_service.db.repositories.suppressions import suppression_of
from consent_service.domain.channels import Channel
from consent_service.domain.ledger import CurrentConsent, Decision, Source
from consent_service.domain.repositories import AddressFacts
from consent_service.domain.restrictions import Restriction
from consent_service.domain.suppressions import Suppression

T = TypeVar("T")
SUPPRESSION, LINKED, CONSENT, RESTRICTION = 0, 1, 2, 3
_NAMES = [c.name for c in suppressions_t.c]
#: Where the other parts put their times and their JSON: where the suppressions table has them.
_TIMES = [_NAMES.index(name) for name in ("effective_at", "recorded_at", "lifted_at")]
_JSON = _NAMES.index("evidence_gaps")
_TEXTS = [i for i in range(len(_NAMES)) if i not in _TIMES and i != _JSON]


def _kind(kind: int) -> Any:
    return literal_column(str(kind), Integer).label("kind")


def _part(kind: int, texts: Sequence[Any], times: Sequence[Any] = (), json: Any = None) -> list[Any]:
    """A part's columns: ``kind``, then its texts, times and JSON each where the suppressions table has
    one, NULL where the part has nothing to put."""
    columns: list[Any] = [null()] * len(_NAMES)
    for slot, column in [*zip(_TEXTS, texts, strict=False), *zip(_TIMES, times, strict=False)]:
        columns[slot] = column
    if json is not None:
        columns[_JSON] = json
    return [_kind(kind), *columns]


def _facts(form: str) -> CompoundSelect[Any]:
    s, p, cp, cc, r = suppressions_t.c, people_t.c, contacts_t.c, current_t.c, restrictions_t.c
    channel = bindparam("channel", type_=String)
    # Read once and kept (a CTE named more than once is materialised on both databases): the people's
    # choices and restrictions are found from it, not by looking every address up again.
    held = (
        select(cp.fingerprint, cp.person_id, p.erased_at)
        .join_from(contacts_t, people_t, cp.person_id == p.id)
        .where(matching(cp.fingerprint, form))
        .cte("held")
    )
    holders = select(held.c.person_id)
    suppressions = select(_kind(SUPPRESSION), *suppressions_t.c).where(
        matching(s.fingerprint, form), or_(s.channel == channel, s.channel == "all"), s.lifted_at.is_(None)
    )
    linked = select(*_part(LINKED, [held.c.fingerprint, held.c.person_id], [held.c.erased_at]))
    consents = select(
        *_part(
            CONSENT,
            [cc.person_id, cc.purpose, cc.channel, cc.decision, cc.event_id, cc.notice_id, cc.source],
            [cc.effective_at],
            cc.collection_context,
        )
    ).where(cc.person_id.in_(holders), cc.purpose == bindparam("purpose"), cc.channel == channel)
    restrictions = select(
        *_part(
            RESTRICTION,
            [r.id, r.person_id, r.fingerprint, r.channel, r.reason, r.created_by, r.lift_reason, r.lifted_by],
            [r.created_at, r.lifted_at],
        )
    ).where(r.person_id.in_(holders))
    # In no order: sorting every row in the database cost a bulk check more than sorting, here, the
    # few lists that hold more than one entry (``_oldest_first``).
    return union_all(suppressions, linked, consents, restrictions)


_FACTS: Keyed = (_facts("one"), {form: _facts(form) for form in FORMS[1:]})
_DECISION = from_value(Decision)
_SOURCE = from_value(Source)


def _consent(row: Sequence[Any]) -> CurrentConsent:
    _, _, purpose, channel, decision, event_id, notice_id, source = row[:8]
    return CurrentConsent(
        purpose,
        channel_out(channel),
        _DECISION(decision),
        row[_TIMES[0] + 1],
        event_id,
        notice_id,
        _SOURCE(source),
        row[_JSON + 1],
    )


def _restriction(row: Sequence[Any]) -> Restriction:
    _, id_, person_id, fingerprint, channel, reason, created_by, lift_reason, lifted_by = row[:9]
    return Restriction(
        id=id_,
        person_id=person_id,
        fingerprint=fingerprint,
        channel=None if channel == "all" else channel_out(channel),
        reason=reason,
        created_by=created_by,
        created_at=row[_TIMES[0] + 1],
        lifted_at=row[_TIMES[1] + 1],
        lift_reason=lift_reason,
        lifted_by=lifted_by,
    )


class SqlCheckFacts:
    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self._c = connection
        self._dialect = dialect

    async def about(self, fingerprints: Sequence[str], purpose: str, channel: Channel) -> AddressFacts:
        linked: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        suppressions: dict[str, list[Suppression]] = defaultdict(list)
        consents: dict[str, CurrentConsent] = {}
        restrictions: dict[str, list[Restriction]] = defaultdict(list)
        erased_at = _TIMES[0] + 1
        for statement, values in runs(
            _FACTS, fingerprints, self._dialect, purpose=purpose, channel=channel.value
        ):
            for row in await self._c.execute(statement, values):
                kind = row[0]
                if kind == SUPPRESSION:
                    suppressions[row[2]].append(suppression_of(row))
                elif kind == LINKED:
                    linked[row[1]].append((row[2], row[erased_at] is not None))
                elif kind == CONSENT:
                    consents[row[1]] = _consent(row)
                else:
                    restrictions[row[2]].append(_restriction(row))
        _oldest_first(suppressions, attrgetter("effective_at"))
        _oldest_first(restrictions, attrgetter("created_at"))
        return AddressFacts(linked, suppressions, consents, restrictions)


def _oldest_first(groups: dict[str, list[T]], when: Callable[[T], datetime]) -> None:
    """Each group in time order, as suppressions and restrictions were read alone (the order a single
    check names the entries in)."""
    for group in groups.values():
        if len(group) > 1:
            group.sort(key=when)
