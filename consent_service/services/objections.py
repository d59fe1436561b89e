"""An objection to all direct marketing (UK GDPR Art 21(2)-(3)): every marketing purpose on every
channel at once, post included, and absolute.

It is written twice over, so that no later change can reopen what the person closed:

- in the ledger, a withdrawal of every marketing purpose on every contact channel the catalogue
  has (an objection where the basis is legitimate interests), so a check by person id, or on a
  contact point added later, answers no;
- on the suppression list, one entry per contact point the person has, for every channel and every
  marketing purpose (``purpose`` None), reason ``objected``, so it also covers a marketing purpose the
  catalogue gains later. No key or staff member can lift it (``suppressions.lift_entry``); the
  person's own later grant re-opens that one purpose and channel alone (``decision.reopened``).

Purposes without a channel (a testimonial) are not contact, so an objection to marketing leaves them
as they are; withdrawing them is a choice of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from consent_service.domain.changes import suppression_added
from consent_service.domain.errors import NotFound
from consent_service.domain.ledger import Decision, Evidence, Source
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Category
from consent_service.domain.suppressions import Suppression, SuppressionReason, SuppressionScope
from consent_service.services.choices import (
    ChoiceInput,
    ChoicesInput,
    RecordChoices,
    Recorded,
    record_choices,
)
from consent_service.services.context import Context
from consent_service.services.usecases import use_case


@dataclass(frozen=True, slots=True)
class ObjectToMarketing:
    person_id: str
    source: Source
    actor: str
    effective_at: datetime | None = None
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True, slots=True)
class Objection:
    """The withdrawals recorded in the ledger, and the suppression entries added for each contact point."""

    recorded: Recorded
    suppressions: tuple[Suppression, ...]


@use_case(Objection)
async def object_to_marketing(uow: UnitOfWork, ctx: Context, command: ObjectToMarketing) -> Objection:
    person = await uow.people.get(command.person_id)
    if person is None or person.erased_at is not None:
        raise NotFound(f"no person {command.person_id}")
    await ctx.catalogue.reload()
    withdrawals = [
        ChoiceInput(purpose.code, channel, Decision.WITHDRAWN)
        for purpose in ctx.catalogue.catalogue
        if purpose.category is Category.MARKETING
        for channel in purpose.channels
        if channel is not None
    ]
    request = ChoicesInput(withdrawals, command.source, command.actor, command.effective_at, command.evidence)
    recorded = await record_choices.within(uow, ctx, RecordChoices(person.id, request))
    now = ctx.clock.now()
    effective_at = (
        recorded.events[0].effective_at if recorded.events else min(command.effective_at or now, now)
    )
    entries = tuple(
        Suppression(
            id=str(uuid.uuid4()),
            fingerprint=fingerprint,
            channel=None,
            scope=SuppressionScope.MARKETING,
            reason=SuppressionReason.OBJECTED,
            purpose=None,
            source=command.source.value,
            actor=command.actor,
            effective_at=effective_at,
            recorded_at=now,
        )
        for fingerprint in dict.fromkeys(contact.fingerprint for contact in person.contacts)
    )
    for entry in entries:
        await uow.suppressions.add(entry)
        uow.emit(suppression_added(entry))
    return Objection(recorded, entries)
