"""Feedback from mail providers (bounces, complaints, unsubscribes) read into suppression facts.

One module per provider (``ses``, ``sendgrid``, ``mailgun``, ``notify``), each pure: it parses a body,
builds the bytes the provider signed and asks a ``SignatureCheck`` (an adapter holding the configured
key) whether the signature is good; GOV.UK Notify, which does not sign, is authenticated by the bearer
token it sends. Nothing here fetches a certificate or touches the network.
"""

from consent_service.domain.feedback.facts import (
    Digest,
    Feedback,
    FeedbackFact,
    Malformed,
    Provider,
    ProviderKeys,
    SignatureCheck,
    Unauthentic,
)

__all__ = [
    "Digest",
    "Feedback",
    "FeedbackFact",
    "Malformed",
    "Provider",
    "ProviderKeys",
    "SignatureCheck",
    "Unauthentic",
]
