"""Keyed fingerprints of contact points (DESIGN §2): what the suppression list keeps instead of addresses."""

from __future__ import annotations

import hashlib
import hmac

from consent_service.domain.contacts import ContactPoint


class Fingerprinter:
    """HMAC-SHA-256 of ``kind:value`` under a server secret.

    The keyed state is built once and copied per address: a fresh ``hmac.new`` costs several times
    more, and bulk checks fingerprint every address they are sent.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the fingerprint key must be at least 128 bits")
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, point: ContactPoint) -> str:
        mac = self._keyed.copy()
        mac.update(f"{point.kind.value}:{point.value}".encode())
        return mac.hexdigest()
