"""Request bodies into the use cases' inputs, and the idempotent-write plumbing shared by controllers."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response

from consent_service.api import schemas as s
from consent_service.domain.keys import ApiKey
from consent_service.domain.ledger import Decision, Evidence, Source
from consent_service.domain.ports import UnitOfWork
from consent_service.services import idempotency
from consent_service.services.choices import ChoiceInput, ChoicesInput, ContactInput, PersonInput
from consent_service.services.context import Context


def actor(key: ApiKey) -> str:
    return f"{key.name} [{key.id}]"


def contact_value(value: s.ContactValue) -> str | dict[str, Any]:
    if isinstance(value, s.PostalAddress):
        return {"lines": list(value.lines), "postcode": value.postcode}
    return value


def person_input(body: s.PersonIn) -> PersonInput:
    return PersonInput(
        reference=body.reference,
        household=body.household,
        display_name=body.display_name,
        contacts=[ContactInput(c.kind, contact_value(c.value)) for c in body.contacts],
    )


def choices_input(body: s.RegistrationIn | s.ConsentsIn, key: ApiKey) -> ChoicesInput:
    evidence = Evidence(**msgspec.structs.asdict(body.evidence)) if body.evidence else Evidence()
    return ChoicesInput(
        choices=[
            ChoiceInput(
                purpose=c.purpose,
                channel=c.channel,
                decision=Decision(c.decision),
                notice=(c.notice.purpose, c.notice.version) if c.notice else None,
                collection_context=msgspec.structs.asdict(c.collection_context)
                if c.collection_context
                else None,
            )
            for c in body.choices
        ],
        source=Source(body.source),
        actor=actor(key),
        effective_at=body.effective_at,
        evidence=evidence,
    )


async def idempotent_write(
    ctx: Context,
    request: Request[ApiKey, Any, Any],
    body: msgspec.Struct,
    work: Callable[[UnitOfWork], Awaitable[msgspec.Struct]],
) -> Response[Any]:
    """Answer 201 with ``work``'s result, once per ``Idempotency-Key`` (replays get the first answer)."""
    key = request.headers.get("idempotency-key")
    digest = hashlib.sha256(request.url.path.encode() + b"\0" + msgspec.json.encode(body)).hexdigest()
    replayed = False

    async def run(uow: UnitOfWork) -> tuple[int, str]:
        nonlocal replayed
        replayed = False
        return 201, msgspec.json.encode(await work(uow)).decode()

    replayed = True
    status, encoded = await idempotency.once(ctx, request.user.id, key, digest, run)
    headers = {"Idempotent-Replayed": "true"} if replayed and key else {}
    return Response(encoded.encode(), status_code=status, media_type="application/json", headers=headers)
