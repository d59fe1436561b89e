"""Signed link tokens for families' unsubscribe and preferences pages (DESIGN §5).

A token is ``v1.<key id>.<payload>.<signature>``: the payload names a contact fingerprint, a channel
and (for an unsubscribe) a purpose, never a contact detail; the signature is HMAC-SHA-256 under the
key the id names. Several keys can verify at once so keys can rotate; links never expire, because an
opt-out must work from an email however old. Hand-written because it is forty lines over ``hmac``
and the standard library, and a general JWT library would bring algorithm negotiation we must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from consent_service.domain.channels import Channel

VERSION = "v1"

#: Who the ledger names as having made a choice through a signed link (no account, no name).
FAMILY = "the family, through a signed link"


class LinkKind(StrEnum):
    UNSUBSCRIBE = "u"
    PREFERENCES = "p"


class InvalidToken(ValueError):
    """Forged, tampered, truncated or signed by a key we do not hold: all the same to the caller."""


@dataclass(frozen=True, slots=True)
class LinkClaim:
    kind: LinkKind
    fingerprint: str
    channel: Channel
    purpose: str | None = None


def key_id(key: bytes) -> str:
    """A short public name for a key, derived from it so it needs no separate configuration."""
    return hashlib.sha256(b"consent-service link key id:" + key).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs with the current key; verifies with the current and every retired key."""

    def __init__(self, current: bytes, retired: Sequence[bytes] = ()) -> None:
        self._current_id = key_id(current)
        self._keys: Mapping[str, bytes] = {key_id(k): k for k in (*retired, current)}

    def _mac(self, kid: str, signed: str) -> bytes:
        return hmac.new(self._keys[kid], signed.encode(), hashlib.sha256).digest()

    def sign(self, claim: LinkClaim) -> str:
        payload = {"k": claim.kind.value, "f": claim.fingerprint, "c": claim.channel.value}
        if claim.purpose is not None:
            payload["p"] = claim.purpose
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{VERSION}.{self._current_id}.{body}"
        return f"{signed}.{_b64(self._mac(self._current_id, signed))}"

    def verify(self, token: str, kind: LinkKind) -> LinkClaim:
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION or parts[1] not in self._keys:
            raise InvalidToken("not a link this service made")
        version, kid, body, signature = parts
        try:
            given = _unb64(signature)
        except ValueError as exc:
            raise InvalidToken("not a link this service made") from exc
        if _b64(given) != signature:
            # Base64's spare low bits would let a changed link decode to the same signature.
            raise InvalidToken("not a link this service made")
        if not hmac.compare_digest(given, self._mac(kid, f"{version}.{kid}.{body}")):
            raise InvalidToken("not a link this service made")
        try:
            payload = json.loads(_unb64(body))
            claim = LinkClaim(
                LinkKind(payload["k"]), str(payload["f"]), Channel(payload["c"]), payload.get("p")
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidToken("not a link this service made") from exc
        if claim.kind is not kind:
            raise InvalidToken("not a link this service made")
        return claim
