"""The Python client verifies webhook deliveries as the Standard Webhooks reference library signs them."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from consent_client import InvalidSignature, verify
from consent_client.webhooks import sign
from standardwebhooks import Webhook

OTHER_SECRET = "whsec_" + base64.b64encode(b"x" * 24).decode()
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
#: Changes a good delivery (its headers and body) into one that must be refused.
Tamper = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]
BODY = b'{"id":"3f0c","type":"choice.recorded","data":{"person_id":"p-1"}}'


def _delivery(secret: str = SECRET, body: bytes = BODY, at: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if at is None else at
    signature = Webhook(secret).sign("msg_2Lq", datetime.fromtimestamp(stamp, tz=UTC), body)
    return {"Webhook-Id": "msg_2Lq", "Webhook-Timestamp": str(stamp), "Webhook-Signature": signature}


def test_a_delivery_signed_by_the_reference_library_verifies_and_gives_its_body() -> None:
    assert verify(SECRET, _delivery(), BODY) == {
        "id": "3f0c",
        "type": "choice.recorded",
        "data": {"person_id": "p-1"},
    }


def test_what_the_client_signs_the_reference_library_accepts() -> None:
    stamp = int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp), "webhook-signature": ""}
    headers["webhook-signature"] = sign(SECRET, "msg_1", stamp, BODY)
    assert Webhook(SECRET).verify(BODY, headers)["id"] == "3f0c"


def test_one_good_signature_among_several_is_enough_while_a_secret_is_rotated() -> None:
    old = _delivery(secret="whsec_" + base64.b64encode(b"an old secret, since rotated").decode())
    headers = _delivery()
    headers["Webhook-Signature"] = f"{old['Webhook-Signature']} {headers['Webhook-Signature']}"
    assert verify(SECRET, headers, BODY)["id"] == "3f0c"


@pytest.mark.parametrize(
    "tampered",
    [
        pytest.param(lambda h, b: (h, b.replace(b"p-1", b"p-2")), id="body changed"),
        pytest.param(lambda h, b: ({**h, "Webhook-Id": "msg_other"}, b), id="id changed"),
        pytest.param(
            lambda h, b: ({**h, "Webhook-Timestamp": str(int(h["Webhook-Timestamp"]) + 1)}, b),
            id="timestamp changed",
        ),
        pytest.param(
            lambda h, b: (_delivery(secret=OTHER_SECRET), b),
            id="other secret",
        ),
        pytest.param(lambda h, b: (_delivery(at=int(time.time()) - 301), b), id="too old"),
        pytest.param(lambda h, b: (_delivery(at=int(time.time()) + 301), b), id="too new"),
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != "Webhook-Id"}, b), id="no id"),
        pytest.param(lambda h, b: ({**h, "Webhook-Timestamp": "soon"}, b), id="timestamp not a number"),
    ],
)
def test_a_forged_changed_or_stale_delivery_is_refused(tampered: Tamper) -> None:
    headers, body = tampered(_delivery(), BODY)
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, body)
