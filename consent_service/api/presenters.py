"""Domain objects into response bodies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from consent_service.api import schemas as s
from consent_service.domain.changes import DeadLetter, Webhook
from consent_service.domain.decision import Answer
from consent_service.domain.evidence import Gap
from consent_service.domain.keys import ApiKey
from consent_service.domain.ledger import ConsentEvent
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.people import Person
from consent_service.domain.purposes import Category, Purpose
from consent_service.domain.streams import Stream
from consent_service.domain.suppressions import Suppression
from consent_service.services.catalogue import CatalogueView
from consent_service.services.choices import Recorded
from consent_service.services.links import Links
from consent_service.services.objections import Objection
from consent_service.services.people import ChoiceState


def notice_ref(catalogue: CatalogueView, notice_id: str | None) -> s.NoticeRefOut | None:
    notice = catalogue.notice_by_id(notice_id)
    return s.NoticeRefOut(purpose=notice.purpose, version=notice.version) if notice else None


def choice_state(catalogue: CatalogueView, state: ChoiceState) -> s.ChoiceStateOut:
    consent = state.consent
    return s.ChoiceStateOut(
        purpose=state.purpose,
        channel=state.channel,
        status=consent.decision.value if consent else "none",
        basis=state.basis,
        effective_at=consent.effective_at if consent else None,
        event_id=consent.event_id if consent else None,
        notice=notice_ref(catalogue, consent.notice_id) if consent else None,
        source=consent.source.value if consent else None,
    )


def person(p: Person, choices: list[s.ChoiceStateOut] | None = None) -> s.PersonOut:
    return s.PersonOut(
        id=p.id,
        reference=p.reference,
        household=p.household,
        display_name=p.display_name,
        created_at=p.created_at,
        contacts=[s.ContactOut(id=c.id, kind=c.kind, value=c.value) for c in p.contacts],
        choices=choices,
        birth_month=p.birth_month,
    )


def receipt(person_id: str, recorded_at: datetime, events: Sequence[ConsentEvent]) -> s.ReceiptOut:
    return s.ReceiptOut(
        person_id=person_id,
        recorded_at=events[0].recorded_at if events else recorded_at,
        events=[
            s.ReceiptEventOut(
                id=e.id,
                seq=e.seq,
                purpose=e.purpose,
                channel=e.channel,
                decision=e.decision,
                effective_at=e.effective_at,
                hash=e.hash,
                prev_hash=e.prev_hash,
                evidence_complete=e.evidence_complete,
                evidence_gaps=[Gap(g) for g in e.evidence_gaps],
            )
            for e in events
        ],
    )


def registration(done: Recorded) -> s.RegistrationOut:
    return s.RegistrationOut(
        person_id=done.person_id, receipt=receipt(done.person_id, done.recorded_at, done.events)
    )


def consents(done: Recorded) -> s.ConsentsOut:
    return s.ConsentsOut(receipt=receipt(done.person_id, done.recorded_at, done.events))


def objection(done: Objection) -> s.ObjectionOut:
    recorded = done.recorded
    return s.ObjectionOut(
        receipt=receipt(recorded.person_id, recorded.recorded_at, recorded.events),
        suppressions=[suppression(entry) for entry in done.suppressions],
    )


def event(catalogue: CatalogueView, e: ConsentEvent) -> s.EventOut:
    return s.EventOut(
        id=e.id,
        seq=e.seq,
        purpose=e.purpose,
        channel=e.channel,
        decision=e.decision,
        effective_at=e.effective_at,
        recorded_at=e.recorded_at,
        source=e.source.value,
        actor=e.actor,
        notice=notice_ref(catalogue, e.notice_id),
        evidence=e.evidence.as_dict(),
        hash=e.hash,
        prev_hash=e.prev_hash,
        evidence_complete=e.evidence_complete,
        evidence_gaps=[Gap(g) for g in e.evidence_gaps],
    )


def event_evidence(catalogue: CatalogueView, e: ConsentEvent) -> s.EventEvidenceOut:
    row = msgspec.structs.asdict(event(catalogue, e))
    notice = catalogue.notice_by_id(e.notice_id)
    row["notice"] = (
        s.EvidenceNoticeOut(
            purpose=notice.purpose,
            version=notice.version,
            language=notice.language,
            kind=notice.kind,
            sha256=notice.sha256,
            published_at=notice.published_at,
        )
        if notice
        else None
    )
    context = e.evidence.collection_context
    return s.EventEvidenceOut(
        **row,
        person_id=e.person_id,
        staff_member=e.evidence.staff_member,
        on_behalf_of=e.evidence.on_behalf_of,
        form_id=e.evidence.form_id,
        collection_context=dict(context) if context else None,
        affirmative_action=e.evidence.affirmative_action,
        pre_ticked=e.evidence.pre_ticked,
        basis=e.basis,
        evidence_hash=e.evidence_hash,
    )


def answer(
    a: Answer, category: Category, minted: Links | None = None, on: Stream | None = None
) -> s.CheckOut:
    return s.CheckOut(
        allowed=a.allowed,
        reason=a.reason,
        category=category,
        basis=a.basis,
        evidence=dict(a.evidence) if a.evidence else None,
        degraded=a.degraded,
        links=links(minted) if minted else None,
        stream=stream(on) if on else None,
    )


def links(minted: Links) -> s.UnsubscribeLinkOut:
    return s.UnsubscribeLinkOut(
        url=minted.url, preferences_url=minted.preferences_url, headers=dict(minted.headers)
    )


def stream(on: Stream) -> s.StreamOut:
    return s.StreamOut(category=on.category, sender=on.sender, list_id=on.list_id)


def suppression(e: Suppression, ignored: Sequence[s.NotKept] = ()) -> s.SuppressionOut:
    """An entry; ``ignored`` names what the request that added it sent and the entry does not keep."""
    return s.SuppressionOut(
        id=e.id,
        fingerprint=e.fingerprint,
        channel=e.channel.value if e.channel else "all",
        scope=e.scope,
        reason=e.reason,
        purpose=e.purpose,
        source=e.source,
        actor=e.actor,
        how=e.how,
        effective_at=e.effective_at,
        recorded_at=e.recorded_at,
        lifted_at=e.lifted_at,
        lift_reason=e.lift_reason,
        lifted_by=e.lifted_by,
        evidence_complete=not e.evidence_gaps,
        evidence_gaps=[Gap(g) for g in e.evidence_gaps],
        ignored=list(ignored),
    )


def export_text(held: s.ExportOut) -> str:
    """The subject access export as plain text a person can read."""
    person = held.person
    lines = [
        "Everything we hold about you",
        f"Produced {held.generated_at:%d %B %Y at %H:%M} UTC",
        "",
        f"Your record: {person.id}",
        f"  Name: {person.display_name or '(none held)'}",
        f"  Our reference: {person.reference or '(none)'}",
        f"  Household: {person.household or '(none)'}"
        + (f", with {len(held.household_members)} other people" if held.household_members else ""),
        f"  First recorded: {person.created_at:%d %B %Y}",
        "",
        "How we may contact you:",
    ]
    lines += [f"  - {c.kind.value}: {c.value}" for c in person.contacts] or ["  (no contact details held)"]
    lines += ["", "Your choices now:"]
    for choice in held.current_choices:
        channel = choice.channel.value if choice.channel else "-"
        since = f" since {choice.effective_at:%d %B %Y}" if choice.effective_at else ""
        lines.append(f"  - {choice.purpose} by {channel}: {choice.status}{since} ({choice.basis.value})")
    lines += ["", "Every choice recorded, oldest first:"]
    for e in held.events:
        channel = e.channel.value if e.channel else "-"
        by = f", taken by {e.evidence['staff_member']}" if e.evidence.get("staff_member") else ""
        note = f" - {e.evidence['note']}" if e.evidence.get("note") else ""
        note += f" (recorded without: {', '.join(e.evidence_gaps)})" if e.evidence_gaps else ""
        lines.append(
            f"  - {e.effective_at:%d %B %Y %H:%M}: {e.purpose} by {channel} {e.decision.value} "
            f"(via {e.source}{by}){note}"
        )
    lines += ["", "Contact restrictions:"]
    lines += [
        f"  - {r.channel}: {r.reason} (from {r.created_at:%d %B %Y}"
        + (f", lifted {r.lifted_at:%d %B %Y})" if r.lifted_at else ")")
        for r in held.restrictions
    ] or ["  (none)"]
    lines += ["", "Suppression list entries for your contact details:"]
    lines += [
        f"  - {x.channel}: {x.reason.value} from {x.effective_at:%d %B %Y}"
        + (f", lifted {x.lifted_at:%d %B %Y}" if x.lifted_at else "")
        + f" (held as {x.fingerprint})"
        for x in held.suppressions
    ] or ["  (none)"]
    lines += ["", "Who changed your record:"]
    lines += [
        f"  - {c.at:%d %B %Y %H:%M}: {c.by} {c.what}" + (f", for {c.staff_member}" if c.staff_member else "")
        for c in held.staff_changes
    ] or ["  (none)"]
    lines += ["", f"Consent receipts (Kantara v1.1), one per consent you gave: {len(held.receipts)}"]
    return "\n".join(lines) + "\n"


def purpose(p: Purpose) -> s.PurposeOut:
    return s.PurposeOut(
        code=p.code,
        category=p.category,
        description=p.description,
        bases={(ch.value if ch else "none"): basis for ch, basis in p.bases.items()},
        shares_with_controllers=p.shares_with_controllers,
    )


def notice(n: NoticeVersion) -> s.NoticeOut:
    return s.NoticeOut(
        id=n.id,
        purpose=n.purpose,
        version=n.version,
        language=n.language,
        text=n.text,
        sha256=n.sha256,
        published_at=n.published_at,
        kind=n.kind,
        controllers=list(n.controllers),
    )


def api_key(key: ApiKey, now: datetime) -> s.KeyInfoOut:
    return s.KeyInfoOut(
        id=key.id,
        name=key.name,
        scopes=sorted(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        active=key.usable(now),
    )


def webhook(webhook: Webhook) -> s.WebhookOut:
    return s.WebhookOut(
        id=webhook.id,
        url=webhook.url,
        created_at=webhook.created_at,
        disabled_at=webhook.disabled_at,
        position=webhook.position,
        attempts=webhook.attempts,
        next_attempt_at=webhook.next_attempt_at,
        last_error=webhook.last_error,
    )


def dead_letter(letter: DeadLetter) -> s.DeadLetterOut:
    return s.DeadLetterOut(
        id=letter.id,
        webhook_id=letter.webhook_id,
        position=letter.position,
        event=letter.event,
        attempts=letter.attempts,
        last_error=letter.last_error,
        failed_at=letter.failed_at,
        replayed_at=letter.replayed_at,
    )
