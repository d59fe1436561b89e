"""What the staff pages show and read during a phone call beyond choices: the effective answer per
contact point, suppressions, new people and contact points, and an address suppressed from the search.

The effective answer is the check API's own (``services/checks.py: check``), asked once per contact
point, purpose and channel; this module only puts its reason into words staff say on the phone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from litestar.datastructures import FormMultiDict

from consent_service.api.staff_forms import (
    SHORT_LIMIT,
    FormErrors,
    contact_value,
    text,
)
from consent_service.api.staff_views import (
    CHANNEL_NAMES,
    GAP_NAMES,
    KIND_NAMES,
    STAFF_SOURCES,
    ChoiceRow,
    channel_name,
    contact_text,
    purpose_name,
    when,
)
from consent_service.domain.channels import CHANNEL_KIND, Channel, ContactKind
from consent_service.domain.decision import Answer, Reason
from consent_service.domain.ledger import ConsentEvent, Source
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.suppressions import (
    STAFF_LIFT_REASONS,
    LiftReason,
    Suppression,
    SuppressionHow,
    SuppressionReason,
)
from consent_service.services.checks import CheckInput, check
from consent_service.services.choices import ContactInput, PersonInput
from consent_service.services.context import Context
from consent_service.services.people import ChoiceState

#: Each suppression reason as staff say it.
SUPPRESSION_WORDS: dict[SuppressionReason, str] = {
    SuppressionReason.UNSUBSCRIBED: "they unsubscribed (by a link or at their email provider)",
    SuppressionReason.WITHDRAWN: "they withdrew their agreement",
    SuppressionReason.OBJECTED: "they objected",
    SuppressionReason.STAFF_REQUEST: "staff added it at their request",
    SuppressionReason.HARD_BOUNCE: "messages to it bounced: the address does not work",
    SuppressionReason.COMPLAINT: "they reported a message as spam",
    SuppressionReason.ERASED: "an earlier record at this address was erased",
    SuppressionReason.IMPORTED: "it came on a list imported from another system",
}
#: Each check reason as staff say it; a suppression adds what the entry says.
REASON_WORDS: dict[Reason, str] = {
    Reason.CONSENT_GRANTED: "They agreed",
    Reason.NO_CONSENT: "They have not agreed",
    Reason.CONSENT_WITHDRAWN: "They withdrew their agreement",
    Reason.OBJECTED: "They objected",
    Reason.LEGITIMATE_INTERESTS: "Sent on legitimate interests: they have not objected",
    Reason.SOFT_OPT_IN: "Soft opt-in: they have not opted out",
    Reason.SUPPRESSED: "On the suppression list",
    Reason.ADMINISTRATIVE: "A service message: sent unless restricted",
    Reason.CONTACT_RESTRICTED: "A safeguarding restriction stops it",
    Reason.CONTACT_INVALID: "The contact point does not work",
    Reason.PERSON_ERASED: "The person's record was erased",
    Reason.STORE_UNAVAILABLE: "Could not be checked just now: try again in a minute",
}
#: How a request reached staff, named as the choice form names the same sources; the select's order.
HOW_NAMES: dict[SuppressionHow, str] = {how: STAFF_SOURCES[Source(how.value)] for how in SuppressionHow}
#: Why an entry was lifted, as staff say it; the lift form offers ``STAFF_LIFT_REASONS``.
LIFT_WORDS: dict[LiftReason, str] = {
    LiftReason.CONFIRMED_WORKING: "The address or number was confirmed working",
    LiftReason.ADDED_IN_ERROR: "It was added by mistake",
    LiftReason.REGRANTED: "They agreed again themselves",
    LiftReason.RECORDED_BEFORE_CODES: (
        "Lifted before reasons were chosen from a list (the reason typed then is not kept)"
    ),
}
#: The lift form's choices, in its order.
LIFT_CHOICES = {reason.value: LIFT_WORDS[reason] for reason in STAFF_LIFT_REASONS}
CONTACT_KINDS = {kind.value: kind for kind in ContactKind}
#: What a suppression added from the search page covers: one channel, or every one.
SUPPRESS_CHANNELS = {"": "Every channel", **{c.value: name for c, name in CHANNEL_NAMES.items()}}


@dataclass(frozen=True, slots=True)
class EffectiveRow:
    contact: str
    purpose: str
    channel: str
    allowed: bool
    why: str


def why(answer: Answer) -> str:
    """The check's reason in plain words, with the suppression's own reason and date when there is one."""
    words = REASON_WORDS[answer.reason]
    evidence: Mapping[str, Any] = answer.evidence or {}
    reason = evidence.get("suppression_reason")
    if reason is not None:
        since = evidence.get("suppressed_since")
        dated = f" on {when(since)}" if isinstance(since, datetime) else ""
        words = f"{words}: {SUPPRESSION_WORDS.get(SuppressionReason(reason), reason)}{dated}"
    return words


async def effective_rows(ctx: Context, person: Person) -> list[EffectiveRow]:
    """What a mailing tool would be told now, for each of the person's contact points and each purpose
    offered on its channels; a purpose with no channel (a testimonial) is asked of the person."""
    rows: list[EffectiveRow] = []
    catalogue = ctx.catalogue.catalogue
    for contact in person.contacts:
        for purpose in catalogue:
            for channel in purpose.bases:
                if channel is None or CHANNEL_KIND[channel] is not contact.kind:
                    continue
                answer = await check(
                    ctx, CheckInput(purpose.code, channel, contact_value(contact), person.id), counted=False
                )
                rows.append(_row(contact_text(contact), purpose.code, channel, answer))
    for purpose in catalogue:
        if None in purpose.bases:
            answer = await check(ctx, CheckInput(purpose.code, None, person_id=person.id), counted=False)
            rows.append(_row("The person", purpose.code, None, answer))
    return rows


def _row(contact: str, purpose: str, channel: Channel | None, answer: Answer) -> EffectiveRow:
    return EffectiveRow(contact, purpose_name(purpose), channel_name(channel), answer.allowed, why(answer))


def with_effect(choices: Iterable[ChoiceRow], effective: Sequence[EffectiveRow]) -> list[ChoiceRow]:
    """Each choice row's "so messages are" from the answers, never from the choice alone: a grant on a
    bounced or unsubscribed address is not sent."""
    rows = []
    for row in choices:
        answers = [e for e in effective if (e.purpose, e.channel) == (row.purpose, row.channel)]
        if not answers:
            meaning = "Not sent: no contact point for this channel"
        elif all(a.allowed for a in answers):
            meaning = "Sent"
        elif not any(a.allowed for a in answers):
            meaning = f"Not sent: {answers[0].why[:1].lower()}{answers[0].why[1:]}"
        else:
            meaning = "Sent to some contact points only: see “What can be sent now”"
        rows.append(ChoiceRow(row.purpose, row.channel, row.status, row.since, row.source, meaning))
    return rows


def saved_caveats(events: Sequence[ConsentEvent], states: Sequence[ChoiceState]) -> str:
    """What staff must know about what they just saved: paperwork missing (kept all the same), and a
    back-dated choice older than the person's latest, which goes into history only."""
    current = {(s.purpose, s.channel): s.consent.event_id for s in states if s.consent}
    gaps = sorted({GAP_NAMES.get(gap, gap) for e in events for gap in e.evidence_gaps})
    older = [e for e in events if current.get((e.purpose, e.channel)) != e.id]
    said = ""
    if gaps:
        said += f" Paperwork missing: {', '.join(gaps)}; the person's wish is kept all the same."
    if older:
        names = ", ".join(f"{purpose_name(e.purpose)} by {channel_name(e.channel).lower()}" for e in older)
        said += f" History only, as they said something newer since: {names}."
    return said


@dataclass(frozen=True, slots=True)
class SuppressionRow:
    id: str
    contact: str
    channel: str
    covers: str
    why: str
    since: str
    added_by: str
    #: How the request reached staff, in words; empty where the reason says it.
    how: str
    in_force: bool
    lifted: str
    lifted_by: str
    lift_reason: str
    #: An objection to marketing is absolute: no staff member lifts it (``OBJECTION_STANDS``).
    liftable: bool


#: What staff are told instead of a lift button on an objection, and after a refused attempt.
OBJECTION_STANDS = (
    "An objection to marketing cannot be lifted by staff. Only the person's own new choice, given "
    "for one purpose and channel, re-opens that purpose and channel."
)


def suppression_rows(person: Person, entries: Mapping[str, Sequence[Suppression]]) -> list[SuppressionRow]:
    rows = []
    for contact in person.contacts:
        for entry in entries.get(contact.id, ()):
            rows.append(
                SuppressionRow(
                    id=entry.id,
                    contact=contact_text(contact),
                    channel=CHANNEL_NAMES[entry.channel] if entry.channel else "Every channel",
                    covers=_covers(entry),
                    why=SUPPRESSION_WORDS.get(entry.reason, entry.reason.value).capitalize(),
                    since=when(entry.effective_at),
                    added_by=entry.actor,
                    how=HOW_NAMES[entry.how] if entry.how else "",
                    in_force=entry.lifted_at is None,
                    lifted=when(entry.lifted_at) if entry.lifted_at else "",
                    lifted_by=entry.lifted_by or "",
                    lift_reason=LIFT_WORDS[entry.lift_reason] if entry.lift_reason else "",
                    liftable=entry.reason is not SuppressionReason.OBJECTED,
                )
            )
    return rows


def _covers(entry: Suppression) -> str:
    if entry.scope.value == "all":
        return "Every message, service messages too"
    return f"{purpose_name(entry.purpose)} only" if entry.purpose else "All marketing"


def read_lift_reason(form: FormMultiDict) -> LiftReason:
    """One of the reasons staff may give: lifting re-opens contact, so it is refused without one."""
    reason = next((r for r in STAFF_LIFT_REASONS if r.value == text(form, "reason")), None)
    if reason is None:
        raise FormErrors(["Choose why you are lifting the suppression."])
    return reason


def _contact(form: FormMultiDict, kind: ContactKind, prefix: str = "") -> ContactInput | None:
    """The point typed into the form's fields for ``kind``; None when they were left empty."""
    if kind is ContactKind.POSTAL:
        line, postcode = text(form, f"{prefix}address"), text(form, f"{prefix}postcode")
        if not line and not postcode:
            return None
        return ContactInput(kind, {"lines": [line], "postcode": postcode})
    value = text(form, f"{prefix}{kind.value}")
    return ContactInput(kind, value) if value else None


def read_contact(form: FormMultiDict, kind: ContactKind) -> ContactInput:
    contact = _contact(form, kind)
    if contact is None:
        raise FormErrors([f"Give the {KIND_NAMES[kind].lower()}."])
    return contact


def read_kind(form: FormMultiDict) -> ContactKind:
    kind = CONTACT_KINDS.get(text(form, "kind"))
    if kind is None:
        raise FormErrors(["Choose the kind of contact point."])
    return kind


def read_new_person(form: FormMultiDict) -> PersonInput:
    """A person met on the phone: a name (or a case reference) and whichever contact points they give."""
    errors: list[str] = []
    name, reference = text(form, "display_name"), text(form, "reference")
    if not name and not reference:
        errors.append("Give their name, or a case reference.")
    for label, value in (("The name", name), ("The reference", reference)):
        if len(value) > SHORT_LIMIT:
            errors.append(f"{label} is longer than {SHORT_LIMIT} characters.")
    if errors:
        raise FormErrors(errors)
    contacts = [c for kind in ContactKind if (c := _contact(form, kind)) is not None]
    return PersonInput(reference or None, None, name or None, contacts)


def read_said_on(form: FormMultiDict, today: date) -> datetime | None:
    """The date on a letter or paper form: None for today (it takes effect as recorded), else the start
    of that day in UTC. A date in the future is passed on for the ledger's rule to judge (DESIGN §4.1)."""
    raw = text(form, "said_on")
    if not raw:
        return None
    try:
        said = date.fromisoformat(raw)
    except ValueError:
        raise FormErrors(["Give the date as a day, month and year."]) from None
    if said == today:
        return None
    return datetime(said.year, said.month, said.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SuppressRequest:
    to: str
    channel: Channel | None
    how: SuppressionHow | None


def read_suppress(form: FormMultiDict) -> SuppressRequest:
    to = text(form, "to")
    raw_channel = text(form, "channel")
    channel = next((c for c in Channel if c.value == raw_channel), None)
    errors = []
    if not to:
        errors.append("Give the email address or phone number to suppress.")
    if raw_channel and channel is None:
        errors.append("Choose a channel from the list.")
    if channel is not None and channel is Channel.POST:
        errors.append("Post is suppressed for a person's postal address, from their page.")
    if errors:
        raise FormErrors(errors)
    # How they asked is never a reason to refuse the opt-out (DESIGN §4.1): a value not on the list
    # (only a forged form sends one) is recorded as not said.
    how = next((h for h in SuppressionHow if h.value == text(form, "how")), None)
    return SuppressRequest(to, channel, how)


def contact_choices(person: Person) -> list[tuple[RecordedContact, str, str]]:
    """Each held point with its kind's name and its text, for the correct and remove forms."""
    return [(c, KIND_NAMES[c.kind], contact_text(c)) for c in person.contacts]
