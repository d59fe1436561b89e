"""What a caller asks of the choices use cases (``services/choices.py``), and what they answer.

Kept apart so that the checks (``services/choice_checks.py``) and the use cases read the same
commands without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.ledger import AffirmativeAction, ConsentEvent, Decision, Evidence, Source


@dataclass(frozen=True, slots=True)
class ContactInput:
    kind: ContactKind
    value: str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PersonInput:
    reference: str | None = None
    household: str | None = None
    display_name: str | None = None
    contacts: Sequence[ContactInput] = ()
    birth_month: str | None = None


@dataclass(frozen=True, slots=True)
class ChoiceInput:
    purpose: str
    channel: Channel | None
    decision: Decision
    notice: tuple[str, int] | None = None
    collection_context: Mapping[str, Any] | None = None
    #: How the person acted, and whether the yes was chosen for them: a grant needs both, and
    #: ``pre_ticked`` false (UK GDPR Art 4(11), Recital 32); a withdrawal needs neither.
    affirmative_action: AffirmativeAction | None = None
    pre_ticked: bool | None = None


@dataclass(frozen=True, slots=True)
class ChoicesInput:
    choices: Sequence[ChoiceInput]
    source: Source
    actor: str
    effective_at: datetime | None = None
    evidence: Evidence = field(default_factory=Evidence)
    #: The withdrawals are the person's objection to direct marketing (UK GDPR Art 21(2)): the
    #: suppressions they add say ``objected`` whatever each channel's basis.
    objection: bool = False


@dataclass(frozen=True, slots=True)
class Register:
    """A registration form: the person (found by reference, or new) and their choices."""

    person: PersonInput
    choices: ChoicesInput


@dataclass(frozen=True, slots=True)
class RecordChoices:
    """Choices for a person already on record (a staff call, a form for a known person)."""

    person_id: str
    choices: ChoicesInput


@dataclass(frozen=True, slots=True)
class Recorded:
    """Choices recorded for a person: the events, and when (the first event's time, if there is one)."""

    person_id: str
    recorded_at: datetime
    events: tuple[ConsentEvent, ...]
