"""Provider feedback over HTTP: signed bounces, complaints and unsubscribes become suppressions once.

The keys are made here: an RSA key and a self-signed certificate standing in for SNS's, a P-256 key
standing in for SendGrid's, a random Mailgun signing key. A second app over the same database is
configured with them, as a deployment would be; the main ``api`` app has none configured, and its
checks must see every suppression the other took at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncEngine

from consent_service.adapters.signatures import provider_keys
from consent_service.api.app import create_app
from consent_service.config import Feedback, Settings, SettingsError
from consent_service.domain.feedback import Digest, ProviderKeys
from tests.integration.conftest import Api, count, fresh_email
from tests.integration.test_registrations import grant, register
from tests.support.asgi import in_process

TOPIC = "arn:aws:sns:eu-west-2:123456789012:consent-feedback"
OTHER_TOPIC = "arn:aws:sns:eu-west-2:123456789012:someone-elses-topic"
SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
MAILGUN_KEY = secrets.token_hex(24)


def self_signed(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.eu-west-2.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@dataclass
class Providers:
    """A client for an app configured with the test keys."""

    client: httpx.AsyncClient

    async def post(self, provider: str, body: bytes, **headers: str) -> httpx.Response:
        return await self.client.post(f"/v1/feedback/{provider}", content=body, headers=headers)


@pytest.fixture(scope="module")
async def providers(api: Api) -> AsyncIterator[Providers]:
    """A second app configured with the test keys, over the main app's context (its store and cache),
    as a second worker would be. Its own rate-limit and session stores stay in memory and on disk."""
    settings = replace(
        api.settings,
        feedback=Feedback(
            ses_topic_arns=(TOPIC,),
            ses_signing_cert=self_signed(SNS_KEY),
            sendgrid_public_key=SENDGRID_PUBLIC,
            mailgun_signing_key=MAILGUN_KEY,
        ),
        redis_url=None,
    )
    app = create_app(settings, api.context)
    transport = in_process(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Providers(client)


# --- How each provider signs (written from their documentation, not from the code under test) -------


def sns(message: str, kind: str = "Notification", topic: str = TOPIC, version: str = "2") -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": message,
        "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "SignatureVersion": version,
        "SigningCertURL": "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-0000.pem",
    }
    if kind == "Notification":
        signed: tuple[str, ...] = ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
    else:
        envelope["Token"] = secrets.token_hex(32)
        envelope["SubscribeURL"] = (
            f"https://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}"
            f"&Token={envelope['Token']}"
        )
        signed = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    canonical = "".join(f"{name}\n{envelope[name]}\n" for name in signed).encode()
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS SignatureVersion 1)
    signature = SNS_KEY.sign(canonical, padding.PKCS1v15(), digest)
    envelope["Signature"] = base64.b64encode(signature).decode()
    return envelope


def ses_bounce(*emails: str, bounce_type: str = "Permanent") -> str:
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": email} for email in emails],
                "timestamp": datetime.now(UTC).isoformat(),
                "feedbackId": f"{uuid.uuid4()}-000000",
            },
            "mail": {"messageId": f"{uuid.uuid4()}-000000", "source": "news@charity.example"},
        }
    )


def ses_complaint(email: str) -> str:
    return json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {
                "userAgent": "AnyCompany Feedback Loop (V0.01)",
                "complainedRecipients": [{"emailAddress": email}],
                "complaintFeedbackType": "abuse",
                "timestamp": datetime.now(UTC).isoformat(),
                "feedbackId": f"{uuid.uuid4()}-000000",
            },
            "mail": {"messageId": f"{uuid.uuid4()}-000000", "source": "news@charity.example"},
        }
    )


def sendgrid(
    events: list[dict[str, Any]], key: ec.EllipticCurvePrivateKey = SENDGRID_KEY
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def sendgrid_event(event: str, email: str, **more: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": int(time.time()),
        "event": event,
        "sg_event_id": base64.b64encode(secrets.token_bytes(16)).decode(),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **more,
    }


def mailgun_signature(timestamp: int | None = None, key: str = MAILGUN_KEY) -> dict[str, str]:
    signed_at = str(timestamp if timestamp is not None else int(time.time()))
    token = secrets.token_hex(25)
    digest = hmac.new(key.encode(), (signed_at + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": signed_at, "token": token, "signature": digest}


def mailgun_event(event: str, email: str, **more: Any) -> dict[str, Any]:
    return {
        "event": event,
        "id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        "timestamp": time.time(),
        "recipient": email,
        "log-level": "error" if event == "failed" else "warn",
        **more,
    }


def mailgun(event: dict[str, Any], signature: dict[str, str] | None = None) -> bytes:
    return json.dumps({"signature": signature or mailgun_signature(), "event-data": event}).encode()


async def subscribed(api: Api) -> str:
    """A family who said yes to marketing email, so that every later deny is the feedback's doing."""
    email = fresh_email()
    await register(api, email, choices=[grant("email")])
    assert (await api.check("email", email))["reason"] == "consent_granted"
    return email


async def entries(api: Api, email: str) -> list[dict[str, Any]]:
    found = await api.get("/v1/suppressions/lookup", scope="checks", to=email, channel="email")
    assert found.status_code == 200, found.text
    return found.json()["items"]  # type: ignore[no-any-return]


def refused(response: httpx.Response, status: int = 403) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


# --- Amazon SES through SNS ------------------------------------------------------------------------


async def test_an_ses_permanent_bounce_marks_the_address_invalid(api: Api, providers: Providers) -> None:
    email = await subscribed(api)
    response = await providers.post("ses", json.dumps(sns(ses_bounce(email.upper()))).encode())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "suppressed": 1,
        "already_suppressed": 0,
        "duplicates": 0,
        "ignored": 0,
        "unusable": 0,
    }
    assert email not in response.text

    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "contact_invalid")
    assert answer["evidence"]["suppression_reason"] == "hard_bounce"
    admin = await api.check("email", email, purpose="administrative")
    assert (admin["allowed"], admin["reason"]) == (False, "contact_invalid")
    [entry] = await entries(api, email)
    assert (entry["reason"], entry["scope"], entry["channel"]) == ("hard_bounce", "marketing", "email")
    assert (entry["source"], entry["actor"]) == ("ses", "ses webhook")


async def test_an_ses_complaint_suppresses_and_sha1_signatures_verify(api: Api, providers: Providers) -> None:
    email = await subscribed(api)
    response = await providers.post("ses", json.dumps(sns(ses_complaint(email), version="1")).encode())
    assert response.status_code == 200, response.text
    assert response.json()["suppressed"] == 1
    answer = await api.check("email", email)
    assert (answer["allowed"], answer["reason"]) == (False, "suppressed")
    assert answer["evidence"]["suppression_reason"] == "complaint"
    assert (await api.check("email", email, purpose="administrative"))["allowed"] is True


async def test_a_transient_bounce_changes_nothing(api: Api, providers: Providers) -> None:
    email = await subscribed(api)
    response = await providers.post(
        "ses", json.dumps(sns(ses_bounce(email, bounce_type="Transient"))).encode()
    )
    assert response.status_code == 200, response.text
    assert (response.json()["suppressed"], response.json()["ignored"]) == (0, 1)
    assert (await api.check("email", email))["allowed"] is True


async def test_a_replayed_sns_message_records_nothing_more(
    api: Api, providers: Providers, database: AsyncEngine
) -> None:
    email, other = await subscribed(api), fresh_email()
    body = json.dumps(sns(ses_bounce(email, other))).encode()
    assert (await providers.post("ses", body)).json()["suppressed"] == 2
    before = await count(database, "suppressions"), await count(database, "provider_events")
    again = await providers.post("ses", body)
    assert again.status_code == 200, again.text
    assert (again.json()["suppressed"], again.json()["duplicates"]) == (0, 1)
    assert (await count(database, "suppressions"), await count(database, "provider_events")) == before
    assert len(await entries(api, email)) == 1


async def test_a_tampered_sns_message_is_refused_and_records_nothing(
    api: Api, providers: Providers, database: AsyncEngine
) -> None:
    genuine, victim = fresh_email(), await subscribed(api)
    envelope = sns(ses_bounce(genuine))
    envelope["Message"] = envelope["Message"].replace(genuine, victim)
    before = await count(database, "suppressions"), await count(database, "provider_events")
    refused(await providers.post("ses", json.dumps(envelope).encode()))
    assert (await count(database, "suppressions"), await count(database, "provider_events")) == before
    assert (await api.check("email", victim))["allowed"] is True


async def test_a_message_for_another_topic_is_refused(api: Api, providers: Providers) -> None:
    email = await subscribed(api)
    refused(await providers.post("ses", json.dumps(sns(ses_bounce(email), topic=OTHER_TOPIC)).encode()))
    assert await entries(api, email) == []


async def test_a_message_signed_by_another_key_is_refused(api: Api, providers: Providers) -> None:
    email = await subscribed(api)
    envelope = sns(ses_bounce(email))
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    canonical = "".join(
        f"{name}\n{envelope[name]}\n" for name in ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
    )
    forged = impostor.sign(canonical.encode(), padding.PKCS1v15(), hashes.SHA256())
    envelope["Signature"] = base64.b64encode(forged).decode()
    refused(await providers.post("ses", json.dumps(envelope).encode()))
    assert await entries(api, email) == []


async def test_a_subscription_confirmation_is_left_to_an_operator(
    providers: Providers, database: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    envelope = sns("You have chosen to subscribe to the topic.", kind="SubscriptionConfirmation")
    before = await count(database, "provider_events")
    with caplog.at_level(logging.WARNING, logger="consent_service.feedback"):
        response = await providers.post(
            "ses", json.dumps(envelope).encode(), **{"Content-Type": "text/plain; charset=UTF-8"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["suppressed"] == 0 and response.json()["note"]
    assert envelope["SubscribeURL"] in caplog.text
    assert await count(database, "provider_events") == before


# --- SendGrid --------------------------------------------------------------------------------------


async def test_sendgrid_events_become_suppressions_once(
    api: Api, providers: Providers, database: AsyncEngine
) -> None:
    bounced, blocked, complained, unsubscribed, grouped, dropped = [await subscribed(api) for _ in range(6)]
    body, headers = sendgrid(
        [
            sendgrid_event("delivered", bounced, response="250 OK"),
            sendgrid_event("bounce", bounced, type="bounce", reason="550 5.1.1 no such user", status="5.1.1"),
            sendgrid_event("bounce", blocked, type="blocked", reason="550 blocked", status="5.0.0"),
            sendgrid_event("spamreport", complained),
            sendgrid_event("unsubscribe", unsubscribed),
            sendgrid_event("group_unsubscribe", grouped, asm_group_id=10),
            sendgrid_event("dropped", dropped, reason="Spam Reporting Address", status="5.0.0"),
        ]
    )
    response = await providers.post("sendgrid", body, **headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "suppressed": 5,
        "already_suppressed": 0,
        "duplicates": 0,
        "ignored": 2,
        "unusable": 0,
    }
    expected = {
        bounced: "contact_invalid",
        complained: "suppressed",
        unsubscribed: "suppressed",
        grouped: "suppressed",
        dropped: "suppressed",
    }
    assert {email: (await api.check("email", email))["reason"] for email in expected} == expected
    assert (await api.check("email", blocked))["allowed"] is True
    assert [e["reason"] for e in await entries(api, unsubscribed)] == ["unsubscribed"]
    assert [e["source"] for e in await entries(api, grouped)] == ["sendgrid"]

    before = await count(database, "suppressions")
    again = await providers.post("sendgrid", body, **headers)
    assert again.status_code == 200, again.text
    assert (again.json()["suppressed"], again.json()["duplicates"]) == (0, 5)
    assert await count(database, "suppressions") == before


async def test_a_tampered_or_unsigned_sendgrid_batch_is_refused(
    api: Api, providers: Providers, database: AsyncEngine
) -> None:
    genuine, victim = fresh_email(), await subscribed(api)
    body, headers = sendgrid([sendgrid_event("spamreport", genuine)])
    before = await count(database, "suppressions")
    refused(await providers.post("sendgrid", body.replace(genuine.encode(), victim.encode()), **headers))
    later = {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()) + 1)}
    refused(await providers.post("sendgrid", body, **later))
    refused(await providers.post("sendgrid", body, **{"Content-Type": "application/json"}))
    _, forged = sendgrid([sendgrid_event("spamreport", genuine)], key=ec.generate_private_key(ec.SECP256R1()))
    refused(await providers.post("sendgrid", body, **forged))
    assert await count(database, "suppressions") == before
    assert (await api.check("email", victim))["allowed"] is True


# --- Mailgun ---------------------------------------------------------------------------------------


async def test_mailgun_failures_and_complaints_become_suppressions(api: Api, providers: Providers) -> None:
    bounced, complained, unsubscribed, retried = [await subscribed(api) for _ in range(4)]
    failed = mailgun_event("failed", bounced, severity="permanent", reason="bounce")
    for event in (
        failed,
        mailgun_event("complained", complained),
        mailgun_event("unsubscribed", unsubscribed),
    ):
        response = await providers.post("mailgun", mailgun(event))
        assert response.status_code == 200, response.text
        assert response.json()["suppressed"] == 1
    temporary = mailgun_event("failed", retried, severity="temporary", reason="generic")
    assert (await providers.post("mailgun", mailgun(temporary))).json()["ignored"] == 1

    assert (await api.check("email", bounced))["reason"] == "contact_invalid"
    assert (await api.check("email", complained))["reason"] == "suppressed"
    assert (await api.check("email", unsubscribed))["reason"] == "suppressed"
    assert (await api.check("email", retried))["allowed"] is True
    [entry] = await entries(api, bounced)
    assert (entry["reason"], entry["source"], entry["actor"]) == ("hard_bounce", "mailgun", "mailgun webhook")


async def test_mailgun_replays_and_reused_tokens_create_nothing(
    api: Api, providers: Providers, database: AsyncEngine
) -> None:
    genuine, victim = await subscribed(api), await subscribed(api)
    signature = mailgun_signature()
    body = mailgun(mailgun_event("complained", genuine), signature)
    assert (await providers.post("mailgun", body)).json()["suppressed"] == 1
    before = await count(database, "suppressions"), await count(database, "provider_events")

    # The same delivery again (a retry, or a replay): nothing new, and no error to make Mailgun retry.
    again = await providers.post("mailgun", body)
    assert again.status_code == 200, again.text
    assert (again.json()["suppressed"], again.json()["duplicates"]) == (0, 1)

    # The signature covers only timestamp and token: pasted onto another event, the token gives it away.
    pasted = mailgun(mailgun_event("failed", victim, severity="permanent", reason="bounce"), signature)
    refused(await providers.post("mailgun", pasted))
    assert (await count(database, "suppressions"), await count(database, "provider_events")) == before
    assert (await api.check("email", victim))["allowed"] is True


async def test_stale_or_forged_mailgun_signatures_are_refused(api: Api, providers: Providers) -> None:
    email = await subscribed(api)
    event = mailgun_event("complained", email)
    stale = mailgun_signature(int(time.time()) - 16 * 60)
    refused(await providers.post("mailgun", mailgun(event, stale)))
    forged = mailgun_signature(key=secrets.token_hex(24))
    refused(await providers.post("mailgun", mailgun(event, forged)))
    refused(await providers.post("mailgun", json.dumps({"event-data": event}).encode()))
    assert await entries(api, email) == []
    fresh = mailgun_signature(int(time.time()) - 14 * 60)
    assert (await providers.post("mailgun", mailgun(event, fresh))).json()["suppressed"] == 1


# --- Refusals common to all three ------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["ses", "sendgrid", "mailgun"])
async def test_a_provider_without_a_key_is_not_configured(api: Api, provider: str) -> None:
    response = await api.client.post(f"/v1/feedback/{provider}", content=b"[]")
    refused(response, 404)
    assert "not configured" in response.json()["detail"]


@pytest.mark.parametrize(
    ("provider", "body", "status"),
    [
        ("ses", b"not json", 400),
        ("ses", b"[" * 50_000, 400),
        ("ses", b'{"Type": "Notification"}', 422),
        ("ses", json.dumps({"Type": "Notice", "TopicArn": TOPIC}).encode(), 422),
        ("mailgun", b"signature=1&token=2", 400),
        ("mailgun", json.dumps({"signature": mailgun_signature()}).encode(), 422),
        ("mailgun", json.dumps({"signature": {"timestamp": "x"}, "event-data": {}}).encode(), 403),
    ],
    ids=[
        "ses-not-json",
        "ses-too-deep",
        "ses-no-topic",
        "ses-unknown-type",
        "mg-form",
        "mg-no-event",
        "mg-bad-ts",
    ],
)
async def test_malformed_notifications_get_a_problem_never_a_server_error(
    providers: Providers, provider: str, body: bytes, status: int
) -> None:
    refused(await providers.post(provider, body), status)


async def test_a_signed_sendgrid_body_that_is_not_an_event_list(providers: Providers) -> None:
    body, headers = sendgrid([])
    empty = await providers.post("sendgrid", body, **headers)
    assert empty.status_code == 200, empty.text
    for document in ({"event": "bounce"}, ["not an event"]):
        body, headers = sendgrid(document)  # type: ignore[arg-type]
        refused(await providers.post("sendgrid", body, **headers), 422)


# --- Configuration ---------------------------------------------------------------------------------


def test_keys_come_from_the_environment(tmp_path: Path) -> None:
    certificate = self_signed(SNS_KEY)
    (tmp_path / "sns.pem").write_text(certificate)
    base = {"CONSENT_DATA_DIR": str(tmp_path), "CONSENT_SES_TOPIC_ARNS": f" {TOPIC}, {OTHER_TOPIC} "}
    from_file = Settings.from_env({**base, "CONSENT_SES_SIGNING_CERT": str(tmp_path / "sns.pem")})
    one_line = Settings.from_env({**base, "CONSENT_SES_SIGNING_CERT": certificate.replace("\n", "\\n")})
    assert from_file.feedback.ses_topic_arns == (TOPIC, OTHER_TOPIC)
    assert from_file.feedback.ses_signing_cert == one_line.feedback.ses_signing_cert == certificate
    nothing = Settings.from_env({"CONSENT_DATA_DIR": str(tmp_path)})
    assert provider_keys(None, (), None, None) == ProviderKeys()
    given = nothing.feedback
    assert (given.ses_signing_cert, given.sendgrid_public_key, given.mailgun_signing_key) == (None,) * 3
    with pytest.raises(SettingsError, match="both"):
        Settings.from_env(base)
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_env({**base, "CONSENT_SES_SIGNING_CERT": str(tmp_path / "missing.pem")})


def test_a_key_that_cannot_be_loaded_stops_the_service_at_start() -> None:
    rsa_public = base64.b64encode(
        SNS_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    for arguments in (
        ("not a certificate", (TOPIC,), None, None),
        (None, (), "bm90IGEga2V5", None),
        (None, (), rsa_public, None),
    ):
        with pytest.raises(ValueError, match="CONSENT_"):
            provider_keys(*arguments)


def test_several_certificates_cover_a_rotation() -> None:
    successor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = provider_keys(self_signed(SNS_KEY) + self_signed(successor), (TOPIC,), None, None)
    assert keys.ses is not None
    for key in (SNS_KEY, successor):
        signature = key.sign(b"payload", padding.PKCS1v15(), hashes.SHA256())
        assert keys.ses.verify(b"payload", signature, Digest.SHA256)
    assert not keys.ses.verify(b"payloaf", signature, Digest.SHA256)
