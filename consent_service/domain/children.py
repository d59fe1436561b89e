"""Children (LEGAL #30): who may grant consent for someone under 18, and when a child's own grant is refused.

Least data: a person's age is held as the year and month of birth (``YYYY-MM``), never the day. An
age is then only ever known to within a month, so it is counted the way that protects the child: as
if the birthday were the last day of the month, so nobody is treated as 13 or 18 before they surely are.
A person with no month of birth on record is treated as an adult; the organisation records one for
the children it works with.

Two rules, both for grants only: an opt-out by or for a child is always recorded (DESIGN §4.1).

- Testimonial or media consent for someone under 18 rests on a guardian's consent: the event names
  the guardian (another person on record) and how they are related, and says whether the child
  assented (ICO Children's code; the child's own view is recorded, not required).
- Someone under 13 cannot consent themself to an online service (UK GDPR Art 8, DPA 2018 s.9): a
  grant through the web form or the preference centre needs a guardian named as well.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from consent_service.domain.errors import FieldError
from consent_service.domain.ledger import Decision, Source

#: Purposes that put a person's story, words or image in front of the public. ``media`` is not in the
#: default catalogue; an organisation that adds a purpose with that code gets the same rule.
MEDIA_PURPOSES = frozenset({"testimonial", "media"})

#: Where a person consents to an online service themself (UK GDPR Art 8).
ONLINE_SOURCES = frozenset({Source.WEB_FORM, Source.PREFERENCE_CENTRE})

ADULT = 18
DIGITAL_CONSENT_AGE = 13

BIRTH_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class Guardian:
    """Who granted for the child, and the child's own assent when it was asked and given."""

    person_id: str | None = None
    relationship: str | None = None
    child_assent: bool | None = None


def age_on(birth_month: str, day: date) -> int:
    """Whole years the person is sure to have reached on ``day``, counting from the month's last day."""
    year, month = (int(part) for part in birth_month.split("-"))
    latest_birthday = date(year, month, calendar.monthrange(year, month)[1])
    before_birthday = (day.month, day.day) < (latest_birthday.month, latest_birthday.day)
    return day.year - year - int(before_birthday)


def guardian_refusals(
    birth_month: str | None,
    on: date,
    purpose: str,
    decision: Decision,
    source: Source,
    guardian: Guardian,
    at: str,
) -> list[FieldError]:
    """Why a choice for a person of this age may not stand without a guardian (none if it may).

    ``at`` is the field prefix the evidence sits under in the request.
    """
    if decision is not Decision.GRANTED or birth_month is None:
        return []
    age = age_on(birth_month, on)
    if guardian.person_id is None:
        if age < ADULT and purpose in MEDIA_PURPOSES:
            message = f"{purpose} consent for someone under {ADULT} is given by a guardian: name them"
        elif age < DIGITAL_CONSENT_AGE and source in ONLINE_SOURCES:
            message = (
                f"someone under {DIGITAL_CONSENT_AGE} cannot consent online themself (UK GDPR Art 8):"
                " a guardian's grant names the guardian"
            )
        else:
            return []
        return [FieldError(f"{at}guardian_id", message)]
    if not guardian.relationship:
        return [FieldError(f"{at}guardian_relationship", "say how the guardian is related to the child")]
    return []
