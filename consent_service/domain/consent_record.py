"""A person's consent record in the ISO/IEC TS 27560:2023 structure, with W3C DPV terms, as one
JSON-LD document: a ``header`` (what the record is, whose, when made), the ``party`` list (the person
and the controller), the ``processing`` each choice concerns (purpose, personal data, legal basis,
notice) and every ``event`` in order, each with its DPV consent state.

Our two decisions map onto the five DPV states this way (docs/COMPLIANCE.md row 26):

- a grant → ``dpv:ConsentGiven``;
- a withdrawal after a grant of the same purpose and channel → ``dpv:ConsentWithdrawn``;
- a withdrawal with no grant before it (the person said no without ever saying yes: an opt-out at
  collection, an imported "no") → ``dpv:ConsentRefused``;
- ``dpv:ConsentExpired`` and ``dpv:ConsentInvalidated`` are never produced: consent here does not lapse
  by time (it stands until withdrawn, ``domain/receipts.py: TERMINATION``) and a grant whose paperwork
  fails is refused, never recorded (DESIGN §4.1). ``CONSENT_STATES`` lists all five so a reader of the
  code sees the whole vocabulary.

Contact details are not in the record: the person is named by id and channels by name, as in a
Kantara receipt. The mapping is hand-written because no maintained Python library produces 27560 or
DPV consent records; the DPV terms are plain strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from consent_service.domain.channels import Channel
from consent_service.domain.ledger import ConsentEvent, Decision
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.purposes import Basis, Category, Purpose
from consent_service.domain.receipts import DataController

SCHEMA = "ISO/IEC TS 27560:2023"
DPV = "https://w3id.org/dpv#"

GIVEN = "dpv:ConsentGiven"
WITHDRAWN = "dpv:ConsentWithdrawn"
REFUSED = "dpv:ConsentRefused"
EXPIRED = "dpv:ConsentExpired"
INVALIDATED = "dpv:ConsentInvalidated"
CONSENT_STATES = (GIVEN, WITHDRAWN, REFUSED, EXPIRED, INVALIDATED)

LEGAL_BASIS = {
    Basis.CONSENT: "dpv:Consent",
    Basis.LEGITIMATE_INTERESTS: "dpv:LegitimateInterest",
    # PECR's soft opt-in has no DPV term: it is marketing on legitimate interests with PECR's conditions.
    Basis.SOFT_OPT_IN: "dpv:LegitimateInterest",
    Basis.PUBLIC_TASK: "dpv:PublicInterest",
}
PURPOSE_CATEGORY = {
    Category.MARKETING: "dpv:DirectMarketing",
    Category.ADMINISTRATIVE: "dpv:CommunicationManagement",
    Category.PUBLIC_TASK: "dpv:PublicInterest",
}
CHANNEL_DATA = {
    Channel.EMAIL: "pd:EmailAddress",
    Channel.SMS: "pd:TelephoneNumber",
    Channel.PHONE: "pd:TelephoneNumber",
    Channel.AUTOMATED_CALL: "pd:TelephoneNumber",
    Channel.POST: "pd:PostalAddress",
}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _processing_id(purpose: str, channel: Channel | None) -> str:
    return f"{purpose}/{channel.value}" if channel else purpose


def states(events: Iterable[ConsentEvent]) -> list[tuple[ConsentEvent, str]]:
    """Each event with its DPV state, in effective order: a withdrawal is ``Withdrawn`` only if a grant
    of the same purpose and channel came before it, else ``Refused``."""
    granted: set[tuple[str, Channel | None]] = set()
    out: list[tuple[ConsentEvent, str]] = []
    for event in sorted(events, key=lambda e: (e.effective_at, e.seq)):
        key = (event.purpose, event.channel)
        if event.decision is Decision.GRANTED:
            granted.add(key)
            out.append((event, GIVEN))
        else:
            out.append((event, WITHDRAWN if key in granted else REFUSED))
    return out


def consent_record(
    person_id: str,
    events: Iterable[ConsentEvent],
    purposes: Mapping[str, Purpose],
    notice_by_id: Callable[[str | None], NoticeVersion | None],
    controller: DataController,
    generated_at: datetime,
) -> dict[str, Any]:
    """One person's record: every processing any of their events concerns, and every event."""
    stated = states(events)
    # Controllers a cited wording named (a partnership's, LEGAL #29): parties to the record as well.
    partners = dict.fromkeys(
        name for e, _ in stated if (n := notice_by_id(e.notice_id)) for name in n.controllers
    )
    processing: dict[str, dict[str, Any]] = {}
    for event, _ in stated:
        pid = _processing_id(event.purpose, event.channel)
        if pid in processing:
            continue
        purpose = purposes.get(event.purpose)
        basis = purpose.basis_for(event.channel) if purpose else None
        processing[pid] = {
            "processing_id": pid,
            "purpose": event.purpose,
            "purpose_description": purpose.description if purpose else "",
            "purpose_category": PURPOSE_CATEGORY[purpose.category] if purpose else None,
            "channel": event.channel.value if event.channel else None,
            "personal_data": [CHANNEL_DATA[event.channel]] if event.channel else ["pd:PersonalStory"],
            "legal_basis": LEGAL_BASIS[basis] if basis else None,
            "data_controller": controller.name,
        }
    return {
        "@context": {"dpv": DPV, "pd": "https://w3id.org/dpv/pd#"},
        "header": {
            "schema_version": SCHEMA,
            "record_id": f"urn:uuid:{person_id}",
            "pii_principal_id": person_id,
            "created_at": _iso(generated_at),
            "jurisdiction": controller.jurisdiction,
            "policy_url": controller.policy_url,
        },
        "party": [
            {"party_id": person_id, "role": "dpv:DataSubject"},
            {
                "party_id": controller.name,
                "role": "dpv:DataController",
                "name": controller.name,
                "contact": controller.contact,
                "email": controller.email,
                "address": controller.address,
                "phone": controller.phone,
            },
            *(
                {"party_id": name, "role": "dpv:DataController", "name": name}
                for name in partners
                if name != controller.name
            ),
        ],
        "processing": list(processing.values()),
        "event": [_event(e, state, notice_by_id(e.notice_id)) for e, state in stated],
    }


def _event(event: ConsentEvent, state: str, notice: NoticeVersion | None) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "processing_id": _processing_id(event.purpose, event.channel),
        "state": state,
        "event_time": _iso(event.effective_at),
        "recorded_at": _iso(event.recorded_at),
        "collection_method": event.source.value,
        "recorded_by": event.actor,
        "notice": (
            {
                "version": notice.version,
                "language": notice.language,
                "sha256": notice.sha256,
                # Only a partnership's wording names other controllers; the organisation's own names none.
                **({"controllers": list(notice.controllers)} if notice.controllers else {}),
            }
            if notice
            else None
        ),
        "evidence_complete": event.evidence_complete,
        # How the person agreed and whether the yes was chosen for them (LEGAL #3); null where not
        # recorded at the time, or a withdrawal that gave none.
        "affirmative_action": act.value if (act := event.evidence.affirmative_action) else None,
        "pre_ticked": event.evidence.pre_ticked,
        "event_hash": event.hash,
    }
