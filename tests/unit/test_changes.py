"""The change each write announces: its type, when it happened, and a payload of ids and fingerprints
that consumers (the feed, webhooks, the stream) read as they always have; an event about a person
also names the caller's own reference for them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from consent_service.domain import changes
from consent_service.domain.changes import ChangeType
from consent_service.domain.channels import Channel, ContactKind
from consent_service.domain.ledger import ConsentEvent, Decision, Source
from consent_service.domain.people import Person, RecordedContact
from consent_service.domain.restrictions import Restriction
from consent_service.domain.suppressions import unsubscribed

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
#: Said in local time (BST): announced in UTC, with a Z.
SAID = datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
FINGERPRINT = "f" * 64


def test_people_and_contacts() -> None:
    person = Person("p-1", AT, "HS-1", "h-1", "Ada")
    contact = RecordedContact("c-1", "p-1", ContactKind.EMAIL, "ada@example.org", FINGERPRINT, AT)
    later = AT + timedelta(days=1)

    announced = [
        changes.person_created(person),
        changes.person_updated(person, later),
        changes.contact_added(contact, "HS-1"),
        changes.person_erased(person, later),
    ]

    assert [(c.type, c.occurred_at, c.data) for c in announced] == [
        (ChangeType.PERSON_CREATED, AT, {"person_id": "p-1", "reference": "HS-1"}),
        (ChangeType.PERSON_UPDATED, later, {"person_id": "p-1", "reference": "HS-1"}),
        (
            ChangeType.CONTACT_ADDED,
            AT,
            {"person_id": "p-1", "reference": "HS-1", "kind": "email", "fingerprint": FINGERPRINT},
        ),
        (ChangeType.PERSON_ERASED, later, {"person_id": "p-1", "reference": "HS-1"}),
    ]
    assert "ada@example.org" not in repr(announced)
    # Someone registered without a reference is announced with a null one, not without the key.
    assert changes.person_created(replace(person, reference=None)).data == {
        "person_id": "p-1",
        "reference": None,
    }


def test_a_recorded_consent_is_announced_when_recorded() -> None:
    event = ConsentEvent(
        "e-1", 7, "p-1", "marketing", Channel.EMAIL, Decision.WITHDRAWN, SAID, AT, Source.EMAIL, "staff", None
    )
    without_channel = ConsentEvent(
        "e-2", 8, "p-1", "testimonial", None, Decision.GRANTED, AT, AT, Source.WEB_FORM, "forms", "n-1"
    )

    recorded = changes.consent_recorded(event, "HS-1")

    assert (recorded.type, recorded.occurred_at) == (ChangeType.CONSENT_RECORDED, AT)
    assert recorded.data == {
        "event_id": "e-1",
        "person_id": "p-1",
        "reference": "HS-1",
        "purpose": "marketing",
        "channel": "email",
        "decision": "withdrawn",
        "effective_at": "2026-06-01T09:00:00Z",
        "source": "email",
        "notice_id": None,
    }
    assert recorded.is_opt_out
    assert changes.consent_recorded(without_channel, None).data["channel"] is None


def test_suppressions_are_announced_by_fingerprint_on_a_channel_or_all() -> None:
    entry = unsubscribed("s-1", FINGERPRINT, Channel.SMS, "marketing", SAID, AT)

    added = changes.suppression_added(entry)
    lifted = changes.suppression_lifted(entry, AT + timedelta(hours=1))

    assert (added.type, added.occurred_at) == (ChangeType.SUPPRESSION_ADDED, AT)
    assert added.data == {
        "suppression_id": "s-1",
        "fingerprint": FINGERPRINT,
        "channel": "sms",
        "scope": "marketing",
        "reason": "unsubscribed",
        "purpose": "marketing",
        "effective_at": "2026-06-01T09:00:00Z",
    }
    assert added.is_opt_out
    assert changes.suppression_added(replace(entry, channel=None)).data["channel"] == "all"
    assert (lifted.type, lifted.occurred_at, lifted.data) == (
        ChangeType.SUPPRESSION_LIFTED,
        AT + timedelta(hours=1),
        {"suppression_id": "s-1", "fingerprint": FINGERPRINT, "channel": "sms"},
    )
    assert changes.suppression_lifted(replace(entry, channel=None), AT).data["channel"] == "all"


def test_restrictions_name_the_person_and_the_address_they_cover() -> None:
    whole = Restriction("r-1", "p-1", None, None, "Safeguarding", "staff", AT)
    by_post = Restriction("r-2", "p-1", FINGERPRINT, Channel.POST, "Safeguarding", "staff", AT)

    added = changes.restriction_added(whole, "HS-1")

    assert (added.type, added.occurred_at) == (ChangeType.RESTRICTION_ADDED, AT)
    assert added.data == {
        "restriction_id": "r-1",
        "person_id": "p-1",
        "reference": "HS-1",
        "fingerprint": None,
        "channel": "all",
    }
    assert changes.restriction_added(by_post, None).data["channel"] == "post"
    assert "Safeguarding" not in repr(changes.restriction_added(by_post, None))
    lifted = changes.restriction_lifted(whole, "HS-1", AT)
    assert (lifted.type, lifted.occurred_at, lifted.data) == (
        ChangeType.RESTRICTION_LIFTED,
        AT,
        {"restriction_id": "r-1", "person_id": "p-1", "reference": "HS-1"},
    )


@pytest.mark.parametrize("secret", [changes.new_secret(), "ab12" * 16], ids=["whsec", "hex, before whsec_"])
def test_deliveries_verify_with_a_standard_webhooks_library(secret: str) -> None:
    """A secret as shown (``whsec_…``), or one made before the prefix (hex), is what a receiver
    gives its library; a delivery whose body or id was changed does not verify."""
    events = [{"id": "e-1"}, {"id": "e-2"}]
    body = b'{"events":[{"id":"e-1"},{"id":"e-2"}]}'
    headers = changes.signed_headers(secret, changes.message_id(events), int(AT.timestamp()), body)

    verifier = Webhook(secret)
    assert verifier.sign(headers["webhook-id"], AT, body) == headers["webhook-signature"]
    assert verifier.sign(headers["webhook-id"], AT, body + b" ") != headers["webhook-signature"]
    assert verifier.sign("msg_other", AT, body) != headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verifier.verify(body, headers)  # signed long ago: a replay is refused by its timestamp
    assert changes.message_id(events) == changes.message_id([dict(e) for e in events])
    assert changes.message_id(events) != changes.message_id(events[:1])
    assert changes.message_id(events).startswith("msg_")
