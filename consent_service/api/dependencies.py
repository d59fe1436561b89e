"""What handlers are given by injection: the use-case context, declared by name as Litestar 3 requires."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency

from consent_service.domain.change_ports import WebhookSender
from consent_service.domain.receipts import DataController
from consent_service.services.context import Context

Ctx: TypeAlias = NamedDependency[Context]

#: The public address of this service, which links for families point at.
BaseUrl: TypeAlias = NamedDependency[str]

#: The organisation named as controller on consent receipts.
Organisation: TypeAlias = NamedDependency[DataController]

#: How webhooks are sent (a dead letter's replay is sent by the request that asks for it).
Sender: TypeAlias = NamedDependency[WebhookSender]
