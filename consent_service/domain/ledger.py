"""The consent ledger: append-only events, hash-chained, and the fold that gives the current state.

Order is by *effective* time (when the person said it), not by arrival: a late-arriving older event
goes into history but never overrides a newer one, and on a tie a withdrawal wins (DESIGN §2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from consent_service.domain.channels import Channel
from consent_service.domain.purposes import Basis

GENESIS_HASH = "0" * 64


class Decision(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class Source(StrEnum):
    WEB_FORM = "web_form"
    PAPER_FORM = "paper_form"
    PHONE_CALL = "phone_call"
    EMAIL = "email"
    LETTER = "letter"
    IN_PERSON = "in_person"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    PREFERENCE_CENTRE = "preference_centre"
    IMPORT = "import"


class AffirmativeAction(StrEnum):
    """How the person acted to give consent: a clear affirmative act (UK GDPR Art 4(11), Recital 32).

    One closed set for every source: a form (web or paper) is ticked, chosen or signed; a call or a
    meeting is a yes said; an email or a letter is a yes written (or signed); an import says which of
    these the person did where the choice was collected.
    """

    #: Ticked a box that was left unticked for them (a web or paper form).
    TICKED_BOX = "ticked_box"
    #: Chose "yes" where "no", or nothing, was chosen for them (a radio button, a switch that started
    #: off, a "yes" button): the families' preferences page.
    CHOSE_YES = "chose_yes"
    #: Signed to say yes (a paper form, a letter, a signature pad).
    SIGNED = "signed"
    #: Said yes when asked (a phone call, in person), heard by the staff member who took it.
    SAID_YES = "said_yes"
    #: Wrote to say yes (an email, a letter).
    WROTE_YES = "wrote_yes"


#: Sources where the person themselves made the choice; an import is the organisation's word, not theirs.
FROM_THE_PERSON = frozenset(Source) - {Source.IMPORT}


@dataclass(frozen=True, slots=True)
class Evidence:
    """What backs a choice. ``collection_context`` is the soft opt-in's proof (how the details came in)."""

    form_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    staff_member: str | None = None
    on_behalf_of: str | None = None
    note: str | None = None
    collection_context: Mapping[str, Any] | None = None
    #: For a child (LEGAL #30): the guardian who granted (a person on record), how they are related,
    #: and whether the child assented. Part of the hashed evidence, so the link cannot be changed later.
    guardian_id: str | None = None
    guardian_relationship: str | None = None
    child_assent: bool | None = None
    #: How the person acted to grant, and whether the yes was chosen for them in advance (a pre-ticked
    #: box; a grant needs ``False``). Set per choice; None on events recorded before they were kept.
    affirmative_action: AffirmativeAction | None = None
    pre_ticked: bool | None = None

    @classmethod
    def stored(cls, values: Mapping[str, Any]) -> Evidence:
        """Evidence as it was kept (JSON): the action read back as its value."""
        action = values.get("affirmative_action")
        if action is None:
            return cls(**values)
        return cls(**{**values, "affirmative_action": AffirmativeAction(action)})

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One choice as stated by the person. ``hash`` chains it to the event recorded before it."""

    id: str
    seq: int
    person_id: str
    purpose: str
    channel: Channel | None
    decision: Decision
    effective_at: datetime
    recorded_at: datetime
    source: Source
    actor: str
    notice_id: str | None
    evidence: Evidence = field(default_factory=Evidence)
    evidence_hash: str = ""
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    #: What the paperwork lacked when it was recorded (``domain/evidence.py: Gap`` values): an opt-out
    #: is recorded whatever is missing (DESIGN §4.1), and says so here. Not personal data, so erasure
    #: keeps it; covered by the hash chain.
    evidence_gaps: tuple[str, ...] = ()
    #: The purpose's lawful basis for this channel when the event was recorded, so that a later change
    #: to the catalogue cannot rewrite what the choice rested on. None for events recorded before the
    #: basis was kept (it was not recorded at the time). Covered by the hash chain when present.
    basis: Basis | None = None

    @property
    def evidence_complete(self) -> bool:
        return not self.evidence_gaps


ConsentKey = tuple[str, Channel | None]


@dataclass(frozen=True, slots=True)
class CurrentConsent:
    """The state of one purpose on one channel for one person, folded from the ledger."""

    purpose: str
    channel: Channel | None
    decision: Decision
    effective_at: datetime
    event_id: str
    notice_id: str | None
    source: Source
    collection_context: Mapping[str, Any] | None = None

    @classmethod
    def from_event(cls, event: ConsentEvent) -> CurrentConsent:
        return cls(
            event.purpose,
            event.channel,
            event.decision,
            event.effective_at,
            event.id,
            event.notice_id,
            event.source,
            event.evidence.collection_context,
        )


def _rank(effective_at: datetime, decision: Decision, event_id: str) -> tuple[datetime, bool, str]:
    # The event id breaks the last tie so that the fold never depends on arrival order.
    return (effective_at, decision is Decision.WITHDRAWN, event_id)


def supersedes(event: ConsentEvent, current: CurrentConsent | None) -> bool:
    """Whether ``event`` becomes the current state over ``current``."""
    if current is None:
        return True
    return _rank(event.effective_at, event.decision, event.id) > _rank(
        current.effective_at, current.decision, current.event_id
    )


def fold(events: Iterable[ConsentEvent], at: datetime | None = None) -> dict[ConsentKey, CurrentConsent]:
    """Current state per (purpose, channel); with ``at``, as it stood at that effective time."""
    state: dict[ConsentKey, CurrentConsent] = {}
    for event in events:
        if at is not None and event.effective_at > at:
            continue
        key = (event.purpose, event.channel)
        if supersedes(event, state.get(key)):
            state[key] = CurrentConsent.from_event(event)
    return state


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def evidence_digest(evidence: Evidence) -> str:
    """Hashed apart from the event, so erasing personal evidence leaves the chain verifiable."""
    return hashlib.sha256(canonical(evidence.as_dict())).hexdigest()


def event_digest(event: ConsentEvent, prev_hash: str) -> str:
    """SHA-256 over the previous hash and every field of the event but the evidence itself."""
    body: dict[str, Any] = {
        "id": event.id,
        "seq": event.seq,
        "person_id": event.person_id,
        "purpose": event.purpose,
        "channel": event.channel.value if event.channel else None,
        "decision": event.decision.value,
        "effective_at": event.effective_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "source": event.source.value,
        "actor": event.actor,
        "notice_id": event.notice_id,
        "evidence_hash": event.evidence_hash,
    }
    if event.evidence_gaps:
        # Only when present, so every event recorded before gaps existed keeps its hash.
        body["evidence_gaps"] = list(event.evidence_gaps)
    if event.basis is not None:
        # Likewise only when present: events recorded before the basis was kept keep their hashes.
        body["basis"] = event.basis.value
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def link_holds(event: ConsentEvent, prev_hash: str, evidence_erased: bool = False) -> bool:
    """Whether ``event`` follows ``prev_hash`` and its stored hashes match its fields.

    Erasure blanks a person's evidence but keeps its hash, so blank evidence of an erased person is
    accepted as it stands; any other field changed anywhere breaks the link.
    """
    evidence_ok = (evidence_erased and not event.evidence.as_dict()) or (
        event.evidence_hash == evidence_digest(event.evidence)
    )
    return event.prev_hash == prev_hash and evidence_ok and event.hash == event_digest(event, prev_hash)


def first_broken_link(
    events: Iterable[ConsentEvent], erased_people: frozenset[str] = frozenset(), prev_hash: str = GENESIS_HASH
) -> ConsentEvent | None:
    """Walk the chain in ``seq`` order; the first event whose stored hashes do not verify, if any."""
    for event in events:
        if not link_holds(event, prev_hash, event.person_id in erased_people):
            return event
        prev_hash = event.hash
    return None
