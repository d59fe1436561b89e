"""What the staff pages show: a person's choices, history, restrictions and contacts as plain rows.

Words, not codes: each row carries the text the page prints, so the templates hold no rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.evidence import Gap
from consent_service.domain.ledger import AffirmativeAction, ConsentEvent, Decision, Source
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.restrictions import Restriction
from consent_service.services.catalogue import CatalogueView
from consent_service.services.people import ChoiceState

CHANNEL_NAMES = {
    Channel.EMAIL: "Email",
    Channel.SMS: "Text message",
    Channel.PHONE: "Phone call",
    Channel.AUTOMATED_CALL: "Automated call",
    Channel.POST: "Post",
}
#: How a request reached staff: every source the API accepts, those taken by staff first (the order
#: of the select), so a paper form or a forwarded unsubscribe can be entered as what it was.
STAFF_SOURCES = {
    Source.PHONE_CALL: "Phone call",
    Source.LETTER: "Letter",
    Source.EMAIL: "Email",
    Source.IN_PERSON: "In person",
    Source.PAPER_FORM: "Paper form",
    Source.WEB_FORM: "Web form",
    Source.UNSUBSCRIBE_LINK: "Unsubscribe link",
    Source.PREFERENCE_CENTRE: "Preferences page",
    Source.IMPORT: "Import",
}
SOURCE_NAMES = STAFF_SOURCES
#: How the person agreed, as the staff member saw or heard it (UK GDPR Art 4(11)): each option says
#: the yes was theirs, so the page records it as not pre-ticked. A call or a visit first, where staff
#: hear the yes themselves.
AGREED_BY = {
    AffirmativeAction.SAID_YES: "They said yes when asked (a call, in person)",
    AffirmativeAction.WROTE_YES: "They wrote to say yes (an email, a letter)",
    AffirmativeAction.SIGNED: "They signed to say yes",
    AffirmativeAction.TICKED_BOX: "They ticked a box left empty for them",
    AffirmativeAction.CHOSE_YES: "They chose “yes” where nothing was chosen for them",
}
KIND_NAMES = {ContactKind.EMAIL: "Email", ContactKind.PHONE: "Phone", ContactKind.POSTAL: "Postal address"}
#: The form field of a purpose with no channel (testimonial) uses this in place of a channel.
NO_CHANNEL = "none"
NOTHING_SAID = "No choice recorded"


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def purpose_name(purpose: Purpose | str) -> str:
    code = purpose.code if isinstance(purpose, Purpose) else purpose
    return code.replace("_", " ").capitalize()


def channel_name(channel: Channel | None) -> str:
    return CHANNEL_NAMES[channel] if channel else "Any use"


def channel_field(code: str, channel: Channel | None) -> str:
    return f"choice:{code}:{channel.value if channel else NO_CHANNEL}"


def contact_text(contact: RecordedContact) -> str:
    """Staff see contacts in full; a postal address is held as its postcode and first line only."""
    if contact.kind is ContactKind.POSTAL:
        postcode, _, first_line = contact.value.partition("|")
        return f"{first_line}, {postcode}"
    return contact.value


def changeable(catalogue: CatalogueView) -> list[Purpose]:
    """Staff change marketing choices; administrative messages are stopped by a restriction instead."""
    return [p for p in catalogue.catalogue if p.category is Category.MARKETING]


@dataclass(frozen=True, slots=True)
class ChoiceRow:
    purpose: str
    channel: str
    status: str
    since: str
    source: str
    meaning: str


@dataclass(frozen=True, slots=True)
class ChangeField:
    name: str
    label: str
    current: str


@dataclass(frozen=True, slots=True)
class ChangeGroup:
    code: str
    name: str
    description: str
    notice: NoticeVersion | None
    fields: list[ChangeField] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    when: str
    recorded: str
    purpose: str
    channel: str
    decision: str
    source: str
    staff_member: str
    on_behalf_of: str
    note: str
    actor: str
    #: What the paperwork lacked, in words staff use; empty when it was complete.
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RestrictionRow:
    id: str
    number: int
    channel: str
    contact: str
    reason: str
    created: str
    created_by: str
    lifted: str
    lifted_by: str
    lift_reason: str
    in_force: bool


def _status(state: ChoiceState) -> tuple[str, str]:
    """What the row says, and what that means for sending."""
    consent = state.consent
    if consent is None:
        if state.basis in (Basis.LEGITIMATE_INTERESTS, Basis.PUBLIC_TASK):
            return NOTHING_SAID, "Sent unless they say no"
        return NOTHING_SAID, "Not sent: needs their agreement"
    if consent.decision is Decision.GRANTED:
        return "Granted", "Sent"
    return "Withdrawn", "Not sent"


def choice_rows(states: Iterable[ChoiceState], catalogue: CatalogueView) -> list[ChoiceRow]:
    rows = []
    for state in states:
        status, meaning = _status(state)
        purpose = catalogue.catalogue.get(state.purpose)
        if purpose is not None and purpose.category is Category.ADMINISTRATIVE:
            meaning = "Sent unless restricted"
        consent = state.consent
        rows.append(
            ChoiceRow(
                purpose_name(state.purpose),
                channel_name(state.channel),
                status,
                when(consent.effective_at) if consent else "",
                SOURCE_NAMES.get(consent.source, consent.source.value) if consent else "",
                meaning,
            )
        )
    return rows


def change_groups(states: Iterable[ChoiceState], catalogue: CatalogueView) -> list[ChangeGroup]:
    """The change form: one group per marketing purpose, with the wording a grant will record."""
    current = {(s.purpose, s.channel): s for s in states}
    latest = catalogue.latest_requests()
    groups = []
    for purpose in changeable(catalogue):
        notice = latest.get(purpose.code)
        group = ChangeGroup(purpose.code, purpose_name(purpose), purpose.description, notice)
        for channel in purpose.channels:
            state = current.get((purpose.code, channel))
            now = _status(state)[0] if state else NOTHING_SAID
            group.fields.append(ChangeField(channel_field(purpose.code, channel), channel_name(channel), now))
        groups.append(group)
    return groups


#: Each evidence gap (``domain/evidence.py: Gap``) as the staff page names it.
GAP_NAMES: dict[str, str] = {
    Gap.STAFF_MEMBER: "no staff member named",
    Gap.NOTE: "back-dated without a reason",
    Gap.EFFECTIVE_AT: "dated in the future (took effect when recorded)",
    Gap.PURPOSE: "unknown purpose (recorded for every marketing purpose)",
    Gap.CHANNEL: "channel not offered (recorded on every channel of the purpose)",
    Gap.NOTICE: "notice version not found",
    Gap.COLLECTION_CONTEXT: "collection context left off",
}


def history_rows(events: Iterable[ConsentEvent]) -> list[HistoryRow]:
    """Newest first: during a call the latest change is the one asked about."""
    ordered = sorted(events, key=lambda e: (e.effective_at, e.seq), reverse=True)
    return [
        HistoryRow(
            when=when(e.effective_at),
            recorded=when(e.recorded_at),
            purpose=purpose_name(e.purpose),
            channel=channel_name(e.channel),
            decision=e.decision.value.capitalize(),
            source=SOURCE_NAMES.get(e.source, e.source.value),
            staff_member=e.evidence.staff_member or "",
            on_behalf_of=e.evidence.on_behalf_of or "",
            note=e.evidence.note or "",
            actor=e.actor,
            gaps=tuple(GAP_NAMES.get(g, g) for g in e.evidence_gaps),
        )
        for e in ordered
    ]


def restriction_rows(restrictions: Iterable[Restriction], person: Person) -> list[RestrictionRow]:
    contacts = {c.fingerprint: contact_text(c) for c in person.contacts}
    rows = []
    for number, r in enumerate(sorted(restrictions, key=lambda r: r.created_at), start=1):
        if r.fingerprint is None:
            contact = "Every contact point"
        else:
            contact = contacts.get(r.fingerprint, "A contact point no longer held")
        rows.append(
            RestrictionRow(
                id=r.id,
                number=number,
                channel=CHANNEL_NAMES[r.channel] if r.channel else "Every channel",
                contact=contact,
                reason=r.reason,
                created=when(r.created_at),
                created_by=r.created_by,
                lifted=when(r.lifted_at) if r.lifted_at else "",
                lifted_by=r.lifted_by or "",
                lift_reason=r.lift_reason or "",
                in_force=r.lifted_at is None,
            )
        )
    return rows


def contact_rows(person: Person) -> list[tuple[str, str, str]]:
    """(id, kind, value) of each held contact point."""
    return [(c.id, KIND_NAMES[c.kind], contact_text(c)) for c in person.contacts]
