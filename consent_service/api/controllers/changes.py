"""Every change in order, for systems that keep in step by pulling; webhooks for those that are told."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx, Sender
from consent_service.api.security import needs
from consent_service.domain.change_ports import DeliveryFailed
from consent_service.domain.keys import KeyScope
from consent_service.services import changes

#: The largest position a caller may name: the largest integer a JSON number (a double, which is how
#: the document writes every bound) holds exactly, so a client or a fuzzer reading ``maximum`` gets
#: the bound the server keeps, not one rounded up past it.
MAX_POSITION = 2**53 - 1


class ChangeController(Controller):
    path = "/v1/changes"
    tags = ["changes"]

    @get(
        "/",
        opt=needs(KeyScope.ADMIN, KeyScope.CHECKS),
        summary="Every change after a cursor, in order (at least once; de-duplicate by id)",
    )
    async def feed(
        self,
        ctx: Ctx,
        after: Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=changes.FEED_LIMIT)] = 100,
    ) -> s.ChangesOut:
        found = await changes.feed(ctx, after, limit)
        return s.ChangesOut(
            items=[
                s.ChangeOut(
                    position=c.position,
                    id=c.change.id,
                    type=c.change.type.value,
                    occurred_at=c.change.occurred_at,
                    data=c.change.data,
                )
                for c in found
            ],
            next_cursor=found[-1].position if found else after,
        )


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["changes"]
    opt = needs(KeyScope.ADMIN)

    @post("/", status_code=201, summary="Register a webhook; its signing secret is shown once")
    async def add(self, ctx: Ctx, data: JSONBody[s.WebhookIn]) -> s.NewWebhookOut:
        webhook = await changes.add_webhook(ctx, data.url)
        shown = presenters.webhook(webhook)
        fields = {name: getattr(shown, name) for name in s.WebhookOut.__struct_fields__}
        return s.NewWebhookOut(**fields, secret=webhook.secret)

    @get("/", summary="Webhooks, with how far each has got and its last error")
    async def list_all(self, ctx: Ctx) -> s.WebhooksOut:
        return s.WebhooksOut(items=[presenters.webhook(w) for w in await changes.webhooks(ctx)])

    @delete("/{webhook_id:uuid}", status_code=200, summary="Stop sending to a webhook")
    async def disable(self, ctx: Ctx, webhook_id: FromPath[UUID]) -> s.WebhookOut:
        return presenters.webhook(await changes.disable_webhook(ctx, str(webhook_id)))

    @get("/{webhook_id:uuid}/dead-letters", summary="Changes a webhook refused after every retry")
    async def dead_letters(
        self, ctx: Ctx, webhook_id: FromPath[UUID], include_replayed: FromQuery[bool] = False
    ) -> s.DeadLettersOut:
        found = await changes.dead_letters(ctx, str(webhook_id), include_replayed)
        return s.DeadLettersOut(items=[presenters.dead_letter(letter) for letter in found])

    @post(
        "/dead-letters/{letter_id:uuid}/replay",
        status_code=200,
        summary="Send a dead letter again now (502 if the webhook still refuses it)",
    )
    async def replay(self, ctx: Ctx, webhook_sender: Sender, letter_id: FromPath[UUID]) -> s.DeadLetterOut:
        try:
            letter = await changes.replay(ctx, webhook_sender, str(letter_id))
        except DeliveryFailed as exc:
            raise HTTPException(status_code=502, detail=f"The webhook refused the replay: {exc}") from exc
        return presenters.dead_letter(letter)
