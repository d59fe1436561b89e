"""The paperwork a choice carries, and what is missing from it (DESIGN §4.1).

A grant is the organisation's licence to market, so it is recorded only with its full provenance. A
withdrawal or objection is the person's wish, so it is always recorded: whatever its paperwork lacks
is named on the event as a gap, never a reason to refuse it. This module is the one place that says
which gaps there are and which of them refuse a choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from consent_service.domain.errors import FieldError
from consent_service.domain.ledger import AffirmativeAction, Decision, Evidence, Source

#: A choice said to take effect later than this from now is a mistake, not a plan.
CLOCK_SKEW = timedelta(minutes=5)
#: A staff member recording a change more than this long after it was said must say why.
BACKDATING_NEEDS_A_REASON = timedelta(days=1)
#: Requests that reach staff: each is recorded with the staff member who took it.
TAKEN_BY_STAFF = frozenset({Source.PHONE_CALL, Source.LETTER, Source.EMAIL, Source.IN_PERSON})


class Gap(StrEnum):
    """One missing piece of paperwork; the value is the name the API and the staff page show."""

    #: A request that reached staff does not say who took it.
    STAFF_MEMBER = "staff_member"
    #: A change recorded more than a day after it was said gives no reason.
    NOTE = "note"
    #: The stated time is in the future: an opt-out takes effect when it is recorded instead.
    EFFECTIVE_AT = "effective_at"
    #: The purpose named is not in the catalogue: the opt-out covers every marketing purpose instead.
    PURPOSE = "purpose"
    #: The purpose is not offered on the channel named: the opt-out covers each of its channels instead.
    CHANNEL = "channel"
    #: The notice version named does not exist or is another purpose's: the opt-out names none.
    NOTICE = "notice"
    #: A collection context that does not fit (not a soft opt-in, or no opt-out offered): left off.
    COLLECTION_CONTEXT = "collection_context"


#: Each gap's explanation, for a refused grant's problem details and the staff page.
EXPLAINED: dict[Gap, str] = {
    Gap.STAFF_MEMBER: "a request taken by staff names who took it",
    Gap.NOTE: "a change back-dated by more than a day needs a reason",
    Gap.EFFECTIVE_AT: "a choice cannot take effect in the future",
    Gap.PURPOSE: "the purpose is not in the catalogue",
    Gap.CHANNEL: "the purpose is not offered on this channel",
    Gap.NOTICE: "the notice version named does not exist or is for another purpose",
    Gap.COLLECTION_CONTEXT: "a collection context is kept only for a soft opt-in with an opt-out offered",
}


def provenance_gaps(
    source: Source, evidence: Evidence, effective_at: datetime, now: datetime
) -> tuple[Gap, ...]:
    """What the request's provenance lacks, in a fixed order: who took it, why late, when."""
    gaps: list[Gap] = []
    if source in TAKEN_BY_STAFF and not evidence.staff_member:
        gaps.append(Gap.STAFF_MEMBER)
    if source in TAKEN_BY_STAFF and now - effective_at > BACKDATING_NEEDS_A_REASON and not evidence.note:
        gaps.append(Gap.NOTE)
    if effective_at > now + CLOCK_SKEW:
        gaps.append(Gap.EFFECTIVE_AT)
    return tuple(gaps)


def refuses(decision: Decision, gaps: Iterable[Gap]) -> bool:
    """Whether these gaps refuse the choice: only a grant is refused for its paperwork, never an opt-out."""
    return decision is Decision.GRANTED and any(True for _ in gaps)


def affirmation_refusals(
    decision: Decision,
    action: AffirmativeAction | None,
    pre_ticked: bool | None,
    at: str,
    soft_opt_in: bool = False,
) -> list[FieldError]:
    """Why a choice does not show an affirmative act (UK GDPR Art 4(11), Recital 32); none if it does.

    A grant says how the person acted and that the yes was not chosen for them (``pre_ticked`` false):
    silence, or a box ticked before they saw it, is not consent. A withdrawal needs neither (DESIGN
    §4.1), and nor does a soft opt-in (a grant carrying its collection context): it is not consent,
    and its proof is the opt-out offered at collection. ``at`` is the choice's field prefix.
    """
    if decision is not Decision.GRANTED or soft_opt_in:
        return []
    errors: list[FieldError] = []
    if action is None:
        acts = ", ".join(a.value for a in AffirmativeAction)
        errors.append(FieldError(f"{at}affirmative_action", f"a grant records how the person agreed: {acts}"))
    if pre_ticked is None:
        errors.append(
            FieldError(f"{at}pre_ticked", "a grant records that the yes was not chosen for them (false)")
        )
    elif pre_ticked:
        errors.append(
            FieldError(f"{at}pre_ticked", "a pre-ticked box, or a yes chosen for them, is not consent")
        )
    return errors


@dataclass(frozen=True, slots=True)
class Paperwork:
    """A choice's gaps and whether they refuse it; ``complete`` when nothing is missing."""

    gaps: tuple[Gap, ...]
    refused: bool

    @property
    def complete(self) -> bool:
        return not self.gaps


def paperwork(
    decision: Decision, source: Source, evidence: Evidence, effective_at: datetime, now: datetime
) -> Paperwork:
    """The rule of DESIGN §4.1 for one choice: its gaps, and whether they refuse it."""
    gaps = provenance_gaps(source, evidence, effective_at, now)
    return Paperwork(gaps, refuses(decision, gaps))


def recorded_at_time(effective_at: datetime, now: datetime) -> datetime:
    """When an opt-out takes effect: as stated, unless that is in the future (then at once)."""
    return now if effective_at > now + CLOCK_SKEW else effective_at
