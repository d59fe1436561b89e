"""The staff pages' forms, read into use-case inputs.

Every field is read as text and checked here, so a bad one comes back as a sentence on the page (never
as an error document), and nothing is written unless the whole form is right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import FormMultiDict

from consent_service.api.staff_views import (
    AGREED_BY,
    CHANNEL_NAMES,
    STAFF_SOURCES,
    changeable,
    channel_field,
    channel_name,
    contact_text,
    purpose_name,
)
from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.ledger import Decision, Source
from consent_service.domain.people import Person, RecordedContact
from consent_service.services.catalogue import CatalogueView
from consent_service.services.choices import ChoiceInput

NOTE_LIMIT = 2000
SHORT_LIMIT = 200
QUERY_LIMIT = 320
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]+$")
_POSTCODE_LIKE = re.compile(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2}$")


class FormErrors(Exception):
    """What was wrong with a form, as sentences for the page; nothing was written."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def text(form: FormMultiDict, name: str, limit: int = SHORT_LIMIT) -> str:
    """One line of text, spaces collapsed; one character past ``limit`` is kept so the check can see it."""
    value = form.get(name, "")
    return " ".join(value.split())[: limit + 1] if isinstance(value, str) else ""


def long_text(form: FormMultiDict, name: str, limit: int = NOTE_LIMIT) -> str:
    value = form.get(name, "")
    return value.strip()[: limit + 1] if isinstance(value, str) else ""


def looks_like_phone(query: str) -> bool:
    """Digits with the spaces, brackets, dashes and + people write numbers with."""
    return bool(_PHONE_LIKE.match(query)) and sum(c.isdigit() for c in query) >= 6


def looks_like_postcode(query: str) -> bool:
    return bool(_POSTCODE_LIKE.match(query))


@dataclass(frozen=True, slots=True)
class ChoiceChange:
    source: Source
    choices: list[ChoiceInput]
    note: str | None
    on_behalf_of: str | None


def read_choice_change(form: FormMultiDict, catalogue: CatalogueView) -> ChoiceChange:
    """The changes the staff member chose; a grant names the wording version the page showed them."""
    errors: list[str] = []
    raw_source = text(form, "source")
    source = next((s for s in STAFF_SOURCES if s.value == raw_source), None)
    if source is None:
        errors.append("Choose how the request came in.")
    note = long_text(form, "note")
    if len(note) > NOTE_LIMIT:
        errors.append(f"The note is longer than {NOTE_LIMIT} characters.")
    on_behalf_of = text(form, "on_behalf_of")
    if len(on_behalf_of) > SHORT_LIMIT:
        errors.append(f"“On behalf of” is longer than {SHORT_LIMIT} characters.")
    raw_act = text(form, "affirmative_action")
    agreed_by = next((a for a in AGREED_BY if a.value == raw_act), None)
    choices: list[ChoiceInput] = []
    for purpose in changeable(catalogue):
        version = text(form, f"notice:{purpose.code}")
        for channel in purpose.channels:
            wanted = text(form, channel_field(purpose.code, channel))
            if not wanted:
                continue
            where = f"{purpose_name(purpose)}, {channel_name(channel)}"
            if wanted not in (Decision.GRANTED.value, Decision.WITHDRAWN.value):
                errors.append(f"{where}: choose from the list.")
                continue
            decision = Decision(wanted)
            if decision is Decision.GRANTED and not version.isdigit():
                errors.append(f"{where}: there is no wording to agree to, so it cannot be granted.")
                continue
            if decision is Decision.WITHDRAWN:
                choices.append(ChoiceInput(purpose.code, channel, decision))
                continue
            # The staff member says how the person agreed; each option is the person's own yes.
            notice = (purpose.code, int(version))
            choices.append(ChoiceInput(purpose.code, channel, decision, notice, None, agreed_by, False))
    if agreed_by is None and any(c.decision is Decision.GRANTED for c in choices):
        errors.append("Choose how they agreed: a grant needs the person's own yes.")
    if not choices and not errors:
        errors.append("Choose at least one change: every choice was left as “No change”.")
    if errors or source is None:
        raise FormErrors(errors)
    return ChoiceChange(source, choices, note or None, on_behalf_of or None)


@dataclass(frozen=True, slots=True)
class RestrictionRequest:
    channel: Channel | None
    to: str | Mapping[str, Any] | None
    reason: str


def contact_value(contact: RecordedContact) -> str | Mapping[str, Any]:
    """A held contact as the input that normalises back to it (postal: postcode and first line)."""
    if contact.kind is ContactKind.POSTAL:
        postcode, _, first_line = contact.value.partition("|")
        return {"lines": [first_line], "postcode": postcode}
    return contact.value


def _reason(form: FormMultiDict, missing: str) -> tuple[str, list[str]]:
    reason = long_text(form, "reason")
    if not reason:
        return reason, [missing]
    if len(reason) > NOTE_LIMIT:
        return reason, [f"The reason is longer than {NOTE_LIMIT} characters."]
    return reason, []


def read_restriction(form: FormMultiDict, person: Person) -> RestrictionRequest:
    errors: list[str] = []
    raw_channel = text(form, "channel")
    channel = next((c for c in Channel if c.value == raw_channel), None)
    if raw_channel and channel is None:
        errors.append("Choose a channel from the list.")
    raw_contact = text(form, "contact")
    contact = next((c for c in person.contacts if c.id == raw_contact), None)
    if raw_contact and contact is None:
        errors.append("Choose one of this person's contact points, or all of them.")
    if contact is not None and channel is not None and CHANNEL_KIND[channel] is not contact.kind:
        errors.append(f"{contact_text(contact)} is not used for {CHANNEL_NAMES[channel].lower()}.")
    reason, problems = _reason(form, "Give the reason for the restriction.")
    errors.extend(problems)
    if errors:
        raise FormErrors(errors)
    return RestrictionRequest(channel, contact_value(contact) if contact else None, reason)


def read_lift_reason(form: FormMultiDict) -> str:
    reason, problems = _reason(form, "Give the reason for lifting the restriction.")
    if problems:
        raise FormErrors(problems)
    return reason
