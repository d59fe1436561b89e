"""Providers' signatures checked against configured keys (the domain's ``SignatureCheck``).

Amazon SNS signs with RSA (PKCS#1 v1.5) under the certificate it names in ``SigningCertURL``; we
never fetch that URL and verify against the certificate(s) the operator configured instead (several
may be given, one after another, to cover SNS rotating its certificate). SendGrid signs with ECDSA
on P-256; Mailgun with HMAC-SHA-256. A key that cannot be loaded stops the service at start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from consent_service.domain.feedback import Digest, ProviderKeys

_HASHES: dict[Digest, type[hashes.SHA1] | type[hashes.SHA256]] = {
    Digest.SHA1: hashes.SHA1,
    Digest.SHA256: hashes.SHA256,
}

_HMAC_HASHES = {Digest.SHA1: hashlib.sha1, Digest.SHA256: hashlib.sha256}


class RsaCertificates:
    """SNS: SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2) under any configured certificate."""

    def __init__(self, pem: str) -> None:
        try:
            certificates = x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            raise ValueError("CONSENT_SES_SIGNING_CERT holds no PEM certificate") from exc
        keys = [certificate.public_key() for certificate in certificates]
        self._keys: Sequence[rsa.RSAPublicKey] = [key for key in keys if isinstance(key, rsa.RSAPublicKey)]
        if len(self._keys) != len(keys):
            raise ValueError("CONSENT_SES_SIGNING_CERT: SNS signing certificates carry RSA keys")

    def verify(self, payload: bytes, signature: bytes, digest: Digest) -> bool:
        for key in self._keys:
            try:
                key.verify(signature, payload, padding.PKCS1v15(), _HASHES[digest]())
            except (InvalidSignature, ValueError):
                continue
            return True
        return False


class EcdsaPublicKey:
    """SendGrid: ECDSA P-256 with SHA-256; the key as SendGrid shows it (base64 DER) or as PEM."""

    def __init__(self, key: str) -> None:
        text = key.strip()
        try:
            if text.startswith("-----BEGIN"):
                loaded = serialization.load_pem_public_key(text.encode())
            else:
                loaded = serialization.load_der_public_key(base64.b64decode(text, validate=True))
        except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
            raise ValueError("CONSENT_SENDGRID_PUBLIC_KEY is not a public key (base64 DER or PEM)") from exc
        if not isinstance(loaded, ec.EllipticCurvePublicKey) or loaded.curve.name != "secp256r1":
            raise ValueError("CONSENT_SENDGRID_PUBLIC_KEY: SendGrid signs with ECDSA on P-256")
        self._key = loaded

    def verify(self, payload: bytes, signature: bytes, digest: Digest) -> bool:
        try:
            self._key.verify(signature, payload, ec.ECDSA(_HASHES[digest]()))
        except (InvalidSignature, ValueError):
            return False
        return True


class HmacKey:
    """Mailgun: HMAC-SHA-256 under the webhook signing key, compared in constant time."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("CONSENT_MAILGUN_SIGNING_KEY is empty")
        self._key = key.encode()

    def verify(self, payload: bytes, signature: bytes, digest: Digest) -> bool:
        expected = hmac.new(self._key, payload, _HMAC_HASHES[digest]).digest()
        return hmac.compare_digest(expected, signature)


def provider_keys(
    ses_certificates: str | None,
    ses_topics: Sequence[str],
    sendgrid_key: str | None,
    mailgun_key: str | None,
    notify_token: str | None = None,
) -> ProviderKeys:
    """The checks for the providers that are configured; the others stay None (their endpoints 404)."""
    return ProviderKeys(
        ses=RsaCertificates(ses_certificates) if ses_certificates and ses_topics else None,
        ses_topics=frozenset(ses_topics),
        sendgrid=EcdsaPublicKey(sendgrid_key) if sendgrid_key else None,
        mailgun=HmacKey(mailgun_key) if mailgun_key else None,
        notify_token=notify_token or None,
    )
