"""Consent receipts in the Kantara Initiative Consent Receipt v1.1 field set, so a family can be sent
proof of what they agreed to, in a format other tools read.

How our records map onto the v1.1 vocabulary (the project's decision; docs/COMPLIANCE.md row 25):

- v1.1 has no state field. Its one consent vocabulary is ``consentType``, the kind of consent the
  controller relies on: ``EXPLICIT`` or ``IMPLICIT``. Every grant we record is an affirmative act by
  (or for) the person, so a grant's receipt says ``EXPLICIT``; nothing we hold is implied consent.
- A withdrawal is not a consent, and v1.1 has no ``WITHDRAWN``: a withdrawal gets no Kantara receipt
  (``NotAConsent``); its record is the ISO/IEC TS 27560 export (``dpv:ConsentWithdrawn``,
  ``domain/consent_record.py``). A receipt for a grant names how to end it in ``termination``.
- ``purposeCategory`` and ``piiCategory`` take the v1.1 appendix's numbered categories.
- The other controllers a wording names (a partnership's, LEGAL #29) are the v1.1 purpose's
  ``thirdPartyName`` with ``thirdPartyDisclosure`` true, and the receipt's ``controllers`` extension
  lists them one by one.
- ``consentTimestamp`` is seconds since the epoch (UTC), as v1.1 asks; ``notice`` and ``eventHash``
  are our extensions (the exact wording agreed to and the ledger link), which v1.1 readers ignore.
- ``affirmativeAction`` and ``preTicked`` (extensions too) say how the person agreed and that the
  yes was not chosen for them (LEGAL #3); both null for a grant recorded before they were kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consent_service.domain.errors import Conflict
from consent_service.domain.ledger import ConsentEvent, Decision
from consent_service.domain.notices import RIGHT_TO_OBJECT, NoticeVersion
from consent_service.domain.purposes import Category, Purpose

SPEC_VERSION = "KI-CR-v1.1.0"

#: The v1.1 ``consentType`` for a grant: an affirmative, recorded act (LEGAL #3), named in the
#: receipt's ``affirmativeAction``.
EXPLICIT = "EXPLICIT"

#: Our categories in the v1.1 appendix's purpose categories.
PURPOSE_CATEGORY = {
    Category.MARKETING: "6 - Marketing",
    Category.ADMINISTRATIVE: "2 - Contracted Service",
    Category.PUBLIC_TASK: "13 - Required by Law Enforcement or Government",
}
#: A channel's contact detail, and a family's story (testimonial) when the purpose has no channel.
CONTACT_PII = "2 - Contact"
STORY_PII = "1 - Biographical"

TERMINATION = (
    "Until withdrawn: by the unsubscribe link, the preferences page, or by telling us by phone, email "
    "or letter. You can object to all marketing at any time."
)


class NotAConsent(Conflict):
    """A withdrawal has no Kantara v1.1 receipt: the standard records consent given, and has no
    withdrawn state."""

    title = "A withdrawal has no Kantara consent receipt"


@dataclass(frozen=True, slots=True)
class DataController:
    """The organisation responsible for the data (from settings)."""

    name: str
    contact: str
    email: str
    address: str
    phone: str
    policy_url: str
    jurisdiction: str = "GB"


def consent_receipt(
    event: ConsentEvent, purpose: Purpose, notice: NoticeVersion | None, controller: DataController
) -> dict[str, Any]:
    """One recorded grant as a receipt. Contact details are not repeated in it: it names the person
    by their id and the channel only."""
    if event.decision is not Decision.GRANTED:
        raise NotAConsent(
            f"event {event.id} is a withdrawal; Kantara v1.1 has no withdrawn state. "
            "Its record is the person's ISO/IEC TS 27560 consent record (dpv:ConsentWithdrawn)."
        )
    # Kantara v1.1 has no member for the right to object (Art 21(4)); one extension member states it
    # apart from the purposes, as the law asks, and a reader of the standard's field set ignores it.
    objection = {"rightToObject": RIGHT_TO_OBJECT} if purpose.category is Category.MARKETING else {}
    shared = notice.controllers if notice else ()
    return {
        "version": SPEC_VERSION,
        "jurisdiction": controller.jurisdiction,
        "consentTimestamp": int(event.effective_at.timestamp()),
        "collectionMethod": event.source.value,
        "consentReceiptID": event.id,
        "language": notice.language if notice else "en",
        "piiPrincipalId": event.person_id,
        "piiControllers": [
            {
                "piiController": controller.name,
                "contact": controller.contact,
                "address": controller.address,
                "email": controller.email,
                "phone": controller.phone,
            }
        ],
        "policyUrl": controller.policy_url,
        "services": [
            {
                "service": purpose.code,
                "purposes": [
                    {
                        "purpose": purpose.description or purpose.code,
                        "purposeCategory": [PURPOSE_CATEGORY[purpose.category]],
                        "consentType": EXPLICIT,
                        "piiCategory": [CONTACT_PII if event.channel else STORY_PII],
                        "primaryPurpose": True,
                        "termination": TERMINATION,
                        # The other controllers the wording named (LEGAL #29), in v1.1's own fields.
                        "thirdPartyDisclosure": bool(shared),
                        **({"thirdPartyName": ", ".join(shared)} if shared else {}),
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "notice": {"version": notice.version, "sha256": notice.sha256} if notice else None,
        "eventHash": event.hash,
        "affirmativeAction": act.value if (act := event.evidence.affirmative_action) else None,
        "preTicked": event.evidence.pre_ticked,
        "controllers": list(shared),
        **objection,
    }
