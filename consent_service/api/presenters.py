"""Domain objects into response bodies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from consent_service.api import schemas as s
from consent_service.domain.decision import Answer
from consent_service.domain.ledger import ConsentEvent
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.people import Person
from consent_service.domain.purposes import Purpose
from consent_service.domain.suppressions import Suppression
from consent_service.services.catalogue import CatalogueView
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
            )
            for e in events
        ],
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
    )


def answer(a: Answer) -> s.CheckOut:
    return s.CheckOut(
        allowed=a.allowed,
        reason=a.reason,
        basis=a.basis,
        evidence=dict(a.evidence) if a.evidence else None,
        degraded=a.degraded,
    )


def suppression(e: Suppression) -> s.SuppressionOut:
    return s.SuppressionOut(
        id=e.id,
        fingerprint=e.fingerprint,
        channel=e.channel.value if e.channel else "all",
        scope=e.scope,
        reason=e.reason,
        purpose=e.purpose,
        source=e.source,
        actor=e.actor,
        note=e.note,
        effective_at=e.effective_at,
        recorded_at=e.recorded_at,
        lifted_at=e.lifted_at,
        lift_reason=e.lift_reason,
        lifted_by=e.lifted_by,
    )


def purpose(p: Purpose) -> s.PurposeOut:
    return s.PurposeOut(
        code=p.code,
        category=p.category,
        description=p.description,
        bases={(ch.value if ch else "none"): basis for ch, basis in p.bases.items()},
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
    )
