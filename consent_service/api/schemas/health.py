"""Whether the service is up, and whether its database may be trusted with an opt-out."""

from __future__ import annotations

from consent_service.api.schemas.common import Out


class Health(Out, kw_only=True):
    status: str
