"""May I contact? For mailing tools, one address at a time or a whole list."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.inputs import contact_value
from consent_service.api.security import needs
from consent_service.domain.keys import Scope
from consent_service.services import checks


class CheckController(Controller):
    path = "/v1/checks"
    tags = ["checks"]

    @post("/", opt=needs(Scope.CHECKS), status_code=200, summary="Check one address or person")
    async def check(self, ctx: Ctx, data: JSONBody[s.CheckIn]) -> s.CheckOut:
        answer = await checks.check(
            ctx,
            checks.CheckInput(
                purpose=data.purpose,
                channel=data.channel,
                to=contact_value(data.to) if data.to is not None else None,
                person_id=data.person_id,
                at=data.at,
            ),
        )
        return presenters.answer(answer)

    @post("/bulk", opt=needs(Scope.CHECKS), status_code=200, summary="Check up to 10,000 addresses")
    async def bulk(self, ctx: Ctx, data: JSONBody[s.BulkCheckIn]) -> s.BulkCheckOut:
        answers = await checks.check_many(
            ctx, data.purpose, data.channel, [contact_value(t) for t in data.to]
        )
        return s.BulkCheckOut(
            results=[
                s.BulkResultOut(to=to, allowed=a.allowed, reason=a.reason)
                for to, a in zip(data.to, answers, strict=True)
            ],
            degraded=any(a.degraded for a in answers),
        )
