"""A small typed client for consent-service, for mailing tools. No answer means do not send marketing."""

from consent_client.client import BULK_LIMIT, ConsentClient, ServiceUnreachable, __version__
from consent_client.errors import ConsentServiceError
from consent_client.models import (
    UNREACHABLE,
    BulkResult,
    Change,
    ChangesPage,
    Contact,
    Decision,
    Links,
    Suppression,
)
from consent_client.retry import NO_RETRY, Retry
from consent_client.webhooks import InvalidSignature, verify

__all__ = [
    "BULK_LIMIT",
    "NO_RETRY",
    "UNREACHABLE",
    "BulkResult",
    "Change",
    "ChangesPage",
    "ConsentClient",
    "ConsentServiceError",
    "Contact",
    "Decision",
    "InvalidSignature",
    "Links",
    "Retry",
    "ServiceUnreachable",
    "Suppression",
    "__version__",
    "verify",
]
