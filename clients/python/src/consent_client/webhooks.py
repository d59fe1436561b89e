"""Checking that a webhook delivery came from the service (the Standard Webhooks specification).

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: one
or more space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the secret shown
when the webhook was registered (``whsec_<base64>``). Hand-written rather than depending on the
``standardwebhooks`` package (which the tests check it against) so that this client needs httpx and
msgspec only: verification is one HMAC and a constant-time comparison.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import msgspec

#: How far a delivery's timestamp may be from the receiver's clock: older ones may be replays.
TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix every secret starts with, not a secret


class InvalidSignature(Exception):
    """The delivery is not from the service, was changed on the way, or is too old (or new) to trust."""


def secret_bytes(secret: str | bytes) -> bytes:
    """The HMAC key in a ``whsec_<base64>`` secret (the prefix optional), or raw bytes as given."""
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a delivery (what the service sends; useful in tests)."""
    digest = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> Any:
    """The delivery's JSON body when its signature is good; raises :class:`InvalidSignature` otherwise.

    Pass the body exactly as received (bytes, before any parsing) and the request's headers (any case).
    Several signatures may be given while the service rotates a secret: one matching is enough.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    given = lowered.get("webhook-signature")
    if not (msg_id and stamp and given):
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are all needed")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a Unix time in seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp is too far from now: a replay, or a wrong clock")
    expected = sign(secret, msg_id, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in given.split()):
        raise InvalidSignature("no webhook-signature matches the body under this secret")
    return msgspec.json.decode(body)
