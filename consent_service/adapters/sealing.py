"""The ``Sealer`` port (``domain/sealing.py``) on AES-256-GCM and HMAC-SHA-256, from ``cryptography``.

One key, ``CONSENT_ENCRYPTION_KEY``, from which two are derived (HKDF-SHA-256, each for one use): one
encrypts, the other keys the search digests, so a digest never reveals anything about the cipher's key.
Each value gets a fresh 96-bit random nonce, and its place (``table.column:row id``) as associated
data: a value copied into another row or column no longer opens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consent_service.domain.sealing import SealedUnreadable

#: Marks a sealed value, and which way it was sealed, so a later scheme can be told from this one.
PREFIX = "v1:"
_NONCE = 12


def _derived(key: bytes, use: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"consent-service " + use).derive(key)


def is_sealed(value: str) -> bool:
    """No email address, E.164 number or ``postcode|line`` begins so, so plaintext is never taken for it."""
    return value.startswith(PREFIX)


class AesGcmSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the encryption key must be 256 bits")
        self._cipher = AESGCM(_derived(key, b"contact details"))
        self._index = hmac.new(_derived(key, b"search index"), digestmod=hashlib.sha256)

    def seal(self, text: str, where: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._cipher.encrypt(nonce, text.encode(), where.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, where: str) -> str:
        if not is_sealed(sealed):
            raise SealedUnreadable(f"{where} is not sealed")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
            return self._cipher.decrypt(raw[:_NONCE], raw[_NONCE:], where.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealedUnreadable(
                f"{where} does not open with CONSENT_ENCRYPTION_KEY: not the key it was sealed with, "
                "or the value was changed or moved"
            ) from exc

    def digest(self, term: str) -> str:
        mac = self._index.copy()
        mac.update(term.encode())
        return mac.hexdigest()
