"""May I contact? For mailing tools, one address at a time or a whole list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, post
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from litestar.params import JSONBody

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.inputs import contact_value
from consent_service.api.ndjson import NDJSONBulkChecks
from consent_service.api.security import needs
from consent_service.domain.errors import InvalidInput
from consent_service.domain.keys import KeyScope
from consent_service.services import checks, links
from consent_service.services.context import Context

_NDJSON = "application/x-ndjson"


@dataclass
class _BulkOperation(Operation):
    """Adds the NDJSON form, which a middleware serves, to the JSON form Litestar documents."""

    def __post_init__(self) -> None:
        lines = Schema(type=OpenAPIType.STRING, description="newline-delimited JSON, one object per line")
        if isinstance(self.request_body, RequestBody):
            self.request_body.content[_NDJSON] = OpenAPIMediaType(schema=lines)
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[_NDJSON] = OpenAPIMediaType(schema=lines)
        self.parameters = [
            *(self.parameters or []),
            *(
                Parameter(
                    name=name,
                    param_in="query",
                    required=False,
                    description=f"NDJSON form only: the {name} every line is checked for",
                    schema=Schema(type=OpenAPIType.STRING),
                )
                for name in ("purpose", "channel")
            ),
            Parameter(
                name="links",
                param_in="query",
                required=False,
                description=(
                    "NDJSON form only: `true` to give each allowed marketing email line its `links` "
                    "(as `links` in the JSON body does)"
                ),
                schema=Schema(type=OpenAPIType.BOOLEAN),
            ),
        ]


async def answer_check(ctx: Context, data: s.CheckIn) -> s.CheckOut:
    """One check's whole answer, for this route and for ``CheckShortcut``, which answers it first.

    Counted in the checks metric only once the answer is whole: a check that raises has counted
    nothing, so the shortcut can hand the request to this route, which raises the same again.
    """
    to = contact_value(data.to) if data.to is not None else None
    request = checks.CheckInput(
        purpose=data.purpose, channel=data.channel, to=to, person_id=data.person_id, at=data.at
    )
    answer = await checks.check(ctx, request, counted=False)
    minted = None
    if data.links:
        [minted] = await links.for_allowed_emails(ctx, data.purpose, data.channel, [to], [answer.allowed])
    category = await checks.category(ctx, data.purpose, data.channel)
    out = presenters.answer(answer, category, minted, await checks.stream(ctx, data.purpose, data.channel))
    checks.count(ctx, request, answer)
    return out


class CheckController(Controller):
    path = "/v1/checks"
    tags = ["checks"]

    @post("/", opt=needs(KeyScope.CHECKS), status_code=200, summary="Check one address or person")
    async def check(self, ctx: Ctx, data: JSONBody[s.CheckIn]) -> s.CheckOut:
        return await answer_check(ctx, data)

    @post(
        "/bulk",
        opt=needs(KeyScope.CHECKS),
        status_code=200,
        summary="Check up to 10,000 addresses (JSON), or any number streamed (NDJSON)",
        description=(
            "JSON: `{purpose, channel, to: [...]}`, answered as one document in input order. "
            'NDJSON (`Content-Type: application/x-ndjson`): one `{"to": ...}` per line, `purpose` '
            "and `channel` as query parameters; one answer line per input line, in order, "
            '`{"line", "to", "allowed", "reason"}` or `{"line", "error"}`, streamed while the body '
            "is still arriving, so read answers as you send."
        ),
        middleware=[NDJSONBulkChecks],
        operation_class=_BulkOperation,
    )
    async def bulk(
        self, ctx: Ctx, request: Request[Any, Any, Any], data: JSONBody[s.BulkCheckIn]
    ) -> s.BulkCheckOut:
        with_links = _links_asked(request) or data.links
        tos = [contact_value(t) for t in data.to]
        answers = await checks.check_many(ctx, data.purpose, data.channel, tos)
        minted = (
            await links.for_allowed_emails(ctx, data.purpose, data.channel, tos, [a.allowed for a in answers])
            if with_links
            else [None] * len(answers)
        )
        on = await checks.stream(ctx, data.purpose, data.channel)
        return s.BulkCheckOut(
            category=await checks.category(ctx, data.purpose, data.channel),
            results=[
                s.BulkResultOut(
                    to=to,
                    allowed=a.allowed,
                    reason=a.reason,
                    links=presenters.links(m) if m else None,
                )
                for to, a, m in zip(data.to, answers, minted, strict=True)
            ],
            degraded=any(a.degraded for a in answers),
            stream=presenters.stream(on) if on else None,
        )


def _links_asked(request: Request[Any, Any, Any]) -> bool:
    """The ``links`` query parameter the document declares for the route, held to the same rule on the
    JSON form as on the NDJSON one: ``true`` or ``false``, anything else refused."""
    given = [value.lower() for value in request.query_params.getall("links", [])]
    if any(value not in ("true", "false") for value in given):
        raise InvalidInput.one("query.links", "links must be true or false")
    return "true" in given
