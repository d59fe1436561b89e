"""Provider feedback read into suppression facts, from the sample payloads in each provider's documentation.

Sources of the fixtures:
- SNS envelopes: Amazon SNS Developer Guide, "HTTP/HTTPS notification JSON format" and "HTTP/HTTPS
  subscription confirmation JSON format" (the documented signatures are truncated there, so a
  placeholder stands in; the signature itself is the adapter's business, tested in integration).
- SES messages: Amazon SES Developer Guide, "Amazon SNS notification examples for Amazon SES" (bounce
  with and without a DSN, complaint with and without a feedback report, delivery), with the optional
  original headers left out, as the guide says they are when not configured.
- SendGrid: the example event batch of the Event Webhook Reference.
- Mailgun: the event shapes of "Webhook Payloads" and the signature block of "Securing Webhooks".
The signature checks here are fakes that record what they were asked to verify: no cryptography.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent_service.domain.errors import InvalidInput
from consent_service.domain.feedback import Digest, Malformed, Provider, Unauthentic, mailgun, sendgrid, ses
from consent_service.domain.suppressions import SuppressionReason

HARD, COMPLAINT, UNSUBSCRIBED = (
    SuppressionReason.HARD_BOUNCE,
    SuppressionReason.COMPLAINT,
    SuppressionReason.UNSUBSCRIBED,
)
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
PLACEHOLDER_SIGNATURE = "RVhBTVBMRQ=="  # base64 of "EXAMPLE"


@dataclass
class Recorder:
    """A SignatureCheck that answers ``answer`` and remembers what it was shown."""

    answer: bool = True
    calls: list[tuple[bytes, bytes, Digest]] = field(default_factory=list)

    def verify(self, payload: bytes, signature: bytes, digest: Digest) -> bool:
        self.calls.append((payload, signature, digest))
        return self.answer


def encoded(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- Amazon SES through SNS ------------------------------------------------------------------------

SNS_NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": TOPIC,
    "Subject": "My First Message",
    "Message": "Hello world!",
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "SignatureVersion": "1",
    "Signature": PLACEHOLDER_SIGNATURE,
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
    "arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96",
}

SNS_SUBSCRIPTION_CONFIRMATION = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37",
    "TopicArn": TOPIC,
    "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    "arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37",
    "Timestamp": "2012-04-26T20:45:04.751Z",
    "SignatureVersion": "1",
    "Signature": PLACEHOLDER_SIGNATURE,
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
}

MAIL = {
    "timestamp": "2016-01-27T14:59:38.237Z",
    "source": "john@example.com",
    "sourceArn": "arn:aws:ses:us-west-2:888888888888:identity/example.com",
    "sourceIp": "127.0.3.0",
    "sendingAccountId": "123456789012",
    "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
}

SES_BOUNCE_WITH_DSN: dict[str, Any] = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": {**MAIL, "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"},
}

SES_BOUNCE_WITHOUT_DSN: dict[str, Any] = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "jane@example.com"}, {"emailAddress": "richard@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": {**MAIL, "messageId": "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"},
}

SES_COMPLAINT_WITH_FEEDBACK = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": {**MAIL, "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000"},
}

SES_COMPLAINT_WITHOUT_FEEDBACK = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000",
    },
    "mail": {**MAIL, "messageId": "0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000"},
}

SES_DELIVERY = {
    "notificationType": "Delivery",
    "mail": {
        **MAIL,
        "messageId": "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
        "destination": ["jane@example.com"],
    },
    "delivery": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "recipients": ["jane@example.com"],
        "processingTimeMillis": 546,
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "remoteMtaIp": "127.0.2.0",
    },
}

SES_TRANSIENT_BOUNCE = {
    **SES_BOUNCE_WITHOUT_DSN,
    "bounce": {**SES_BOUNCE_WITHOUT_DSN["bounce"], "bounceType": "Transient"},
}


def sns_carrying(ses_message: dict[str, Any], **changes: str) -> dict[str, Any]:
    envelope = {**SNS_NOTIFICATION, "Message": json.dumps(ses_message), **changes}
    envelope.pop("Subject")
    return envelope


def test_the_sns_string_to_sign_is_the_documented_one() -> None:
    check = Recorder()
    message = ses.read(encoded(SNS_NOTIFICATION), check, frozenset({TOPIC}))
    assert message.type is ses.MessageType.NOTIFICATION
    assert check.calls == [
        (
            b"Message\nHello world!\n"
            b"MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
            b"Subject\nMy First Message\n"
            b"Timestamp\n2012-05-02T00:54:06.655Z\n"
            b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
            b"Type\nNotification\n",
            b"EXAMPLE",
            Digest.SHA1,
        )
    ]


def test_a_subscription_confirmation_signs_its_url_and_token_and_suppresses_nothing() -> None:
    check = Recorder()
    body = encoded({**SNS_SUBSCRIPTION_CONFIRMATION, "SignatureVersion": "2"})
    message = ses.read(body, check, frozenset({TOPIC}))
    signed, _, digest = check.calls[0]
    assert signed.startswith(b"Message\nYou have chosen to subscribe")
    assert b"\nSubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription" in signed
    assert signed.endswith(
        b"Token\n2336412f37\nTopicArn\n" + TOPIC.encode() + b"\nType\nSubscriptionConfirmation\n"
    )
    assert digest is Digest.SHA256
    assert message.subscribe_url == SNS_SUBSCRIPTION_CONFIRMATION["SubscribeURL"]
    assert ses.feedback(message).facts == ()


@pytest.mark.parametrize(
    ("ses_message", "expected"),
    [
        (SES_BOUNCE_WITH_DSN, [("jane@example.com", HARD)]),
        (SES_BOUNCE_WITHOUT_DSN, [("jane@example.com", HARD), ("richard@example.com", HARD)]),
        (SES_COMPLAINT_WITH_FEEDBACK, [("richard@example.com", COMPLAINT)]),
        (SES_COMPLAINT_WITHOUT_FEEDBACK, [("richard@example.com", COMPLAINT)]),
        (SES_TRANSIENT_BOUNCE, []),
        (SES_DELIVERY, []),
    ],
    ids=[
        "bounce-dsn",
        "bounce-no-dsn",
        "complaint-feedback",
        "complaint-no-feedback",
        "transient",
        "delivery",
    ],
)
def test_ses_notifications(
    ses_message: dict[str, Any], expected: list[tuple[str, SuppressionReason]]
) -> None:
    message = ses.read(encoded(sns_carrying(ses_message)), Recorder(), frozenset({TOPIC}))
    found = ses.feedback(message)
    assert [(fact.to, fact.reason) for fact in found.facts] == expected
    assert {fact.event_id for fact in found.facts} <= {SNS_NOTIFICATION["MessageId"]}
    assert {fact.provider for fact in found.facts} <= {Provider.SES}
    assert all(fact.occurred_at == datetime(2016, 1, 27, 14, 59, 38, 237000, UTC) for fact in found.facts)
    assert found.ignored == (0 if expected else 1)


def test_event_publishing_says_event_type_instead_of_notification_type() -> None:
    published = {
        "eventType": "Complaint",
        **{k: v for k, v in SES_COMPLAINT_WITH_FEEDBACK.items() if k != "notificationType"},
    }
    message = ses.read(encoded(sns_carrying(published)), Recorder(), frozenset({TOPIC}))
    assert [fact.reason for fact in ses.feedback(message).facts] == [COMPLAINT]


def test_an_unreadable_bounce_time_falls_back_to_the_sns_timestamp() -> None:
    odd = {
        **SES_BOUNCE_WITH_DSN,
        "bounce": {**SES_BOUNCE_WITH_DSN["bounce"], "timestamp": "0001-01-01T00:00:00+01:00"},
    }
    message = ses.read(encoded(sns_carrying(odd)), Recorder(), frozenset({TOPIC}))
    [fact] = ses.feedback(message).facts
    assert fact.occurred_at == datetime(2012, 5, 2, 0, 54, 6, 655000, UTC)


@pytest.mark.parametrize(
    ("envelope", "topics", "check"),
    [
        (SNS_NOTIFICATION, frozenset({TOPIC}), Recorder(answer=False)),
        (SNS_NOTIFICATION, frozenset({"arn:aws:sns:us-west-2:123456789012:OtherTopic"}), Recorder()),
        ({**SNS_NOTIFICATION, "SignatureVersion": "3"}, frozenset({TOPIC}), Recorder()),
        ({**SNS_NOTIFICATION, "Signature": "not base64!"}, frozenset({TOPIC}), Recorder()),
        ({k: v for k, v in SNS_NOTIFICATION.items() if k != "Signature"}, frozenset({TOPIC}), Recorder()),
    ],
    ids=["bad-signature", "unknown-topic", "unknown-version", "not-base64", "unsigned"],
)
def test_sns_refusals(envelope: dict[str, Any], topics: frozenset[str], check: Recorder) -> None:
    with pytest.raises(Unauthentic):
        ses.read(encoded(envelope), check, topics)


def test_an_unknown_topic_is_refused_before_any_signature_is_checked() -> None:
    check = Recorder()
    with pytest.raises(Unauthentic):
        ses.read(encoded(SNS_NOTIFICATION), check, frozenset())
    assert check.calls == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<xml/>", Malformed),
        (b"[" * 100_000 + b"]" * 100_000, Malformed),
        (b"[]", InvalidInput),
        (encoded({**SNS_NOTIFICATION, "Type": "Gossip"}), InvalidInput),
        (encoded({k: v for k, v in SNS_NOTIFICATION.items() if k != "MessageId"}), InvalidInput),
        (encoded({**SNS_NOTIFICATION, "Message": 42}), InvalidInput),
    ],
    ids=["not-json", "too-deep", "not-an-object", "unknown-type", "no-id", "message-not-text"],
)
def test_malformed_sns_bodies(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        ses.read(body, Recorder(), frozenset({TOPIC}))


def test_an_ses_message_that_is_not_json_is_malformed() -> None:
    message = ses.read(
        encoded({**SNS_NOTIFICATION, "Message": "Hello world!"}), Recorder(), frozenset({TOPIC})
    )
    with pytest.raises(Malformed):
        ses.feedback(message)


# --- SendGrid --------------------------------------------------------------------------------------


def sendgrid_event(event: str, **more: Any) -> dict[str, Any]:
    return {
        "email": "example@test.com",
        "timestamp": 1513299569,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": "cat facts",
        "sg_event_id": "sg_event_id",
        "sg_message_id": "sg_message_id",
        **more,
    }


BROWSER = {
    "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
    "ip": "255.255.255.255",
}
SENDGRID_SAMPLE = [
    sendgrid_event("processed"),
    sendgrid_event("deferred", ip="168.1.1.1", response="400 try again later", attempt="5"),
    sendgrid_event("delivered", ip="168.1.1.1", response="250 OK"),
    sendgrid_event("open", sg_machine_open=False, **BROWSER),
    sendgrid_event("click", url="http://www.sendgrid.com/", **BROWSER),
    sendgrid_event(
        "bounce",
        bounce_classification="invalid",
        ip="168.1.1.1",
        reason="500 unknown recipient",
        status="5.0.0",
    ),
    sendgrid_event("dropped", reason="Bounced Address", status="5.0.0"),
    sendgrid_event("spamreport"),
    sendgrid_event("unsubscribe"),
    sendgrid_event("group_unsubscribe", url="http://www.sendgrid.com/", asm_group_id=10, **BROWSER),
    sendgrid_event("group_resubscribe", url="http://www.sendgrid.com/", asm_group_id=10, **BROWSER),
]


def test_the_sendgrid_sample_batch() -> None:
    check = Recorder()
    body = encoded(SENDGRID_SAMPLE)
    found = sendgrid.read(body, "RVhBTVBMRQ==", "1513299569", check)
    assert check.calls == [(b"1513299569" + body, b"EXAMPLE", Digest.SHA256)]
    assert [(fact.to, fact.reason) for fact in found.facts] == [
        ("example@test.com", HARD),  # bounce
        ("example@test.com", HARD),  # dropped: Bounced Address
        ("example@test.com", COMPLAINT),  # spamreport
        ("example@test.com", UNSUBSCRIBED),  # unsubscribe
        ("example@test.com", UNSUBSCRIBED),  # group_unsubscribe
    ]
    assert found.ignored == 6
    assert found.facts[0].occurred_at == datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
    assert {fact.event_id for fact in found.facts} == {"sg_event_id"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (sendgrid_event("bounce", type="bounce", reason="500 unknown recipient"), HARD),
        (sendgrid_event("bounce", type="blocked", reason="550 blocked by policy"), None),
        (sendgrid_event("dropped", reason="Spam Reporting Address"), COMPLAINT),
        (sendgrid_event("dropped", reason="Unsubscribed Address"), UNSUBSCRIBED),
        (sendgrid_event("dropped", reason="Invalid"), None),
        (sendgrid_event("deferred"), None),
    ],
    ids=["hard", "blocked", "dropped-spam", "dropped-unsubscribed", "dropped-invalid", "deferred"],
)
def test_sendgrid_event_reasons(event: dict[str, Any], expected: SuppressionReason | None) -> None:
    assert sendgrid.reason_for(event) is expected


def test_sendgrid_events_without_an_address_or_id_are_counted_unusable() -> None:
    events = [sendgrid_event("spamreport", sg_event_id=None), sendgrid_event("unsubscribe", email="")]
    found = sendgrid.read(encoded(events), "RVhBTVBMRQ==", "1", Recorder())
    assert (found.facts, found.unusable) == ((), 2)


@pytest.mark.parametrize(
    ("signature", "timestamp", "check"),
    [
        ("RVhBTVBMRQ==", "1513299569", Recorder(answer=False)),
        (None, "1513299569", Recorder()),
        ("RVhBTVBMRQ==", None, Recorder()),
        ("%%%", "1513299569", Recorder()),
    ],
    ids=["bad-signature", "no-signature", "no-timestamp", "not-base64"],
)
def test_sendgrid_refusals(signature: str | None, timestamp: str | None, check: Recorder) -> None:
    with pytest.raises(Unauthentic):
        sendgrid.read(encoded(SENDGRID_SAMPLE), signature, timestamp, check)


def test_a_signed_sendgrid_body_that_is_not_an_array_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        sendgrid.read(b'{"event": "bounce"}', "RVhBTVBMRQ==", "1", Recorder())
    with pytest.raises(Malformed):
        sendgrid.read(b"event=bounce", "RVhBTVBMRQ==", "1", Recorder())


# --- Mailgun ---------------------------------------------------------------------------------------

MAILGUN_SIGNATURE = {
    "timestamp": "1529006854",
    "token": "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    "signature": "d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55",
}
SIGNED_AT = datetime.fromtimestamp(1529006854, UTC)


def mailgun_event(event: str, **more: Any) -> dict[str, Any]:
    return {
        "account": {"id": "1234567890303a4bd1f33898"},
        "domain": {"name": "sample.mailgun.com"},
        "envelope": {
            "sender": "sender@sample.mailgun.com",
            "targets": "recipient@sample.mailgun.com",
            "transport": "smtp",
        },
        "event": event,
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "id": "CCXMjJ7nQi2N3BPigGOdgQ",
        "log-level": "info",
        "message": {
            "headers": {
                "from": "Sample Sender <sender@sample.mailgun.com>",
                "message-id": "20260203192638.000be97f99f8cea1@sample.mailgun.com",
                "subject": "Sample webhook payload",
                "to": "recipient@sample.mailgun.com",
            },
            "size": 341,
        },
        "recipient": "recipient@sample.mailgun.com",
        "recipient-domain": "sample.mailgun.com",
        "tags": ["webhook_payload"],
        "timestamp": 1529006854.329574,
        "user-variables": [],
        **more,
    }


def permanent_failure(reason: str = "bounce") -> dict[str, Any]:
    return mailgun_event(
        "failed",
        severity="permanent",
        reason=reason,
        **{
            "log-level": "error",
            "delivery-status": {
                "attempt-no": 1,
                "code": 550,
                "description": "",
                "message": "5.1.1 The email account that you tried to reach does not exist.",
                "session-seconds": 2.95,
            },
        },
    )


def mailgun_body(event: dict[str, Any], **signature: str) -> bytes:
    return encoded({"signature": {**MAILGUN_SIGNATURE, **signature}, "event-data": event})


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (permanent_failure(), HARD),
        (permanent_failure("suppress-bounce"), HARD),
        (permanent_failure("suppress-unsubscribe"), UNSUBSCRIBED),
        (permanent_failure("suppress-complaint"), COMPLAINT),
        (permanent_failure("old"), None),
        (mailgun_event("failed", severity="temporary", reason="generic"), None),
        (mailgun_event("complained"), COMPLAINT),
        (mailgun_event("unsubscribed"), UNSUBSCRIBED),
        (mailgun_event("delivered"), None),
        (mailgun_event("accepted"), None),
    ],
    ids=[
        "bounce",
        "suppress-bounce",
        "suppress-unsubscribe",
        "suppress-complaint",
        "gave-up",
        "temporary",
        "complained",
        "unsubscribed",
        "delivered",
        "accepted",
    ],
)
def test_mailgun_events(event: dict[str, Any], expected: SuppressionReason | None) -> None:
    check = Recorder()
    delivery = mailgun.read(mailgun_body(event), check, SIGNED_AT + timedelta(seconds=3))
    assert check.calls == [
        (
            b"1529006854a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
            bytes.fromhex(MAILGUN_SIGNATURE["signature"]),
            Digest.SHA256,
        )
    ]
    assert delivery.token == MAILGUN_SIGNATURE["token"]
    assert delivery.feedback.seen == ("CCXMjJ7nQi2N3BPigGOdgQ",)
    facts = [(f.to, f.reason, f.event_id) for f in delivery.feedback.facts]
    assert facts == (
        [("recipient@sample.mailgun.com", expected, "CCXMjJ7nQi2N3BPigGOdgQ")] if expected else []
    )


@pytest.mark.parametrize(
    ("now", "check", "signature"),
    [
        (SIGNED_AT + timedelta(minutes=16), Recorder(), {}),
        (SIGNED_AT - timedelta(minutes=16), Recorder(), {}),
        (SIGNED_AT, Recorder(answer=False), {}),
        (SIGNED_AT, Recorder(), {"signature": "not hex"}),
        (SIGNED_AT, Recorder(), {"token": "t" * 201}),
        (SIGNED_AT, Recorder(), {"timestamp": "yesterday"}),
        (SIGNED_AT, Recorder(), {"signature": ""}),
        (SIGNED_AT, Recorder(), {"timestamp": "9" * 5000}),
    ],
    ids=[
        "stale",
        "from-the-future",
        "bad-signature",
        "not-hex",
        "overlong-token",
        "bad-timestamp",
        "empty",
        "huge-timestamp",
    ],
)
def test_mailgun_refusals(now: datetime, check: Recorder, signature: dict[str, str]) -> None:
    with pytest.raises(Unauthentic):
        mailgun.read(mailgun_body(permanent_failure(), **signature), check, now)


def test_a_mailgun_body_without_its_signature_block_is_refused() -> None:
    with pytest.raises(Unauthentic):
        mailgun.read(encoded({"event-data": mailgun_event("complained")}), Recorder(), SIGNED_AT)


def test_a_mailgun_timestamp_within_fifteen_minutes_is_fresh() -> None:
    delivery = mailgun.read(
        mailgun_body(mailgun_event("complained")), Recorder(), SIGNED_AT + timedelta(minutes=14)
    )
    assert [fact.reason for fact in delivery.feedback.facts] == [COMPLAINT]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (encoded({"signature": MAILGUN_SIGNATURE, "event-data": "complained"}), InvalidInput),
        (encoded({"signature": MAILGUN_SIGNATURE}), InvalidInput),
        (encoded([MAILGUN_SIGNATURE]), InvalidInput),
        (b"signature=abc&token=def", Malformed),
    ],
    ids=["event-not-an-object", "no-event", "not-an-object", "form-encoded"],
)
def test_malformed_mailgun_bodies(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        mailgun.read(body, Recorder(), SIGNED_AT)
