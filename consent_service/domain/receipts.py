"""Consent receipts in the Kantara Initiative Consent Receipt v1.1 field set, so a family can be sent
proof of what they agreed to, in a format other tools read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consent_service.domain.ledger import ConsentEvent, Decision
from consent_service.domain.notices import NoticeVersion
from consent_service.domain.purposes import Purpose

SPEC_VERSION = "KI-CR-v1.1.0"


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
    """One recorded choice as a receipt. Contact details are not repeated in it: it names the person
    by their id and the channel only."""
    channel = event.channel.value if event.channel else None
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
                        "purposeCategory": [purpose.category.value],
                        "consentType": "EXPLICIT" if event.decision is Decision.GRANTED else "WITHDRAWN",
                        "piiCategory": [f"contact details for {channel}" if channel else "family story"],
                        "primaryPurpose": True,
                        "termination": "Until withdrawn: by the unsubscribe link, the preferences page, "
                        "or by telling us by phone, email or letter.",
                        "thirdPartyDisclosure": False,
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "notice": {"version": notice.version, "sha256": notice.sha256} if notice else None,
        "eventHash": event.hash,
    }
