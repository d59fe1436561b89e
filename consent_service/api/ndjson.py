"""Streaming bulk checks: NDJSON in, NDJSON out, any length, in constant memory (README: at scale).

A mailing tool sends one ``{"to": …}`` per line and reads one answer per line, in input order, while
it is still sending. Litestar's streaming response listens for the client's disconnect by calling
``receive()``, which would swallow the request body this exchange is still reading, and its request
body reader stops at the app's size limit; so NDJSON requests are taken here, at the ASGI level, by a
middleware on the bulk route. JSON requests pass on to the ordinary handler.

Lines are answered in batches, the first of ``FIRST_BATCH`` lines (so answers start soon after the
list does), each next one twice the last up to ``BATCH``, and none holding more than ``BATCH_BYTES``:
each batch is one ``check_many`` (one read of the database), and nothing is kept once its answers
are written, so memory stays flat however long the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import msgspec
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException, ValidationException
from litestar.types import ASGIApp, Receive, Scope, Send

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.context import context_of
from consent_service.api.inputs import contact_value
from consent_service.domain.channels import Channel
from consent_service.domain.decision import Reason
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.services import checks, links
from consent_service.services.context import Context

MEDIA_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
FIRST_BATCH = 1000
#: Each batch pays a transaction and a statement per table whatever its size: in batches of 1,000
#: lines that came to a quarter of the work, and a stream ran at 0.76 of the JSON bulk check's rate.
BATCH = 4000
#: ... and no more than this of lines held at once, however long each line is.
BATCH_BYTES = 1 << 20
#: A line longer than this is answered as an error without being held whole in memory.
MAX_LINE_BYTES = 16 * 1024


class Line(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    to: s.ContactValue


class _Answered(msgspec.Struct, omit_defaults=True):
    """An answer line; its fields in the order the lines have always had them."""

    line: int
    to: s.ContactValue
    allowed: bool
    reason: Reason
    degraded: bool = False
    links: s.UnsubscribeLinkOut | None = None


class _Refused(msgspec.Struct):
    line: int
    error: str


_decode_line = msgspec.json.Decoder(Line, strict=True).decode
#: A batch's answers are encoded in one call, each line ended by a newline.
_encode_lines = msgspec.json.Encoder().encode_lines


def is_ndjson(scope: Scope) -> bool:
    content_type = Headers.from_scope(scope).get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() in MEDIA_TYPES


class NDJSONBulkChecks:
    """Middleware on ``POST /v1/checks/bulk``: takes NDJSON requests, hands everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not is_ndjson(scope):
            await self.app(scope, receive, send)
            return
        key: ApiKey | None = scope.get("user")
        if key is None or KeyScope.CHECKS not in key.scopes:
            raise PermissionDeniedException("This route needs a key with scope checks")
        purpose, channel, with_links = _query(scope)
        ctx = context_of(scope["litestar_app"])
        # An unknown purpose, or one with no basis on this channel, is refused before any answer.
        await ctx.catalogue.purpose(purpose, channel)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/x-ndjson"),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        async for batch in _batches(_lines(receive)):
            await send(
                {
                    "type": "http.response.body",
                    "body": await _answer(ctx, purpose, channel, batch, with_links),
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _query(scope: Scope) -> tuple[str, Channel, bool]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    errors: list[dict[str, str]] = []
    purpose = query.get("purpose", [""])[0]
    if not purpose:
        errors.append(
            {"key": "purpose", "source": "query", "message": "a purpose is needed, e.g. ?purpose=marketing"}
        )
    raw_channel = query.get("channel", [""])[0]
    channel: Channel | None = None
    try:
        channel = Channel(raw_channel)
    except ValueError:
        wanted = ", ".join(c.value for c in Channel)
        errors.append({"key": "channel", "source": "query", "message": f"channel must be one of {wanted}"})
    raw_links = query.get("links", ["false"])[0].lower()
    if raw_links not in ("true", "false"):
        errors.append({"key": "links", "source": "query", "message": "links must be true or false"})
    if errors or channel is None:
        raise ValidationException("The NDJSON bulk check needs purpose and channel", extra=errors)
    return purpose, channel, raw_links == "true"


Numbered = tuple[int, bytes | None]


async def _lines(receive: Receive) -> AsyncIterator[Numbered]:
    """Each line of the body with its number; ``None`` for a line too long to keep."""
    pending = b""
    number = 0
    skipping = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away: stop answering
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            if skipping:
                skipping = False
                yield number, None
            else:
                # Refused alike whether the line came whole in one chunk or split across several.
                yield number, line if len(line) <= MAX_LINE_BYTES else None
        if len(pending) > MAX_LINE_BYTES:
            pending, skipping = b"", True
        if not more:
            break
    if pending.strip() or skipping:
        yield number + 1, None if skipping else pending


async def _batches(
    lines: AsyncIterator[tuple[int, bytes | None]],
) -> AsyncIterator[list[tuple[int, bytes | None]]]:
    batch: list[tuple[int, bytes | None]] = []
    held, size = 0, FIRST_BATCH
    async for number, line in lines:
        if line is not None and not line.strip():
            continue
        batch.append((number, line))
        held += len(line) if line is not None else 0
        if len(batch) == size or held >= BATCH_BYTES:
            yield batch
            batch, held, size = [], 0, min(2 * size, BATCH)
    if batch:
        yield batch


async def _answer(
    ctx: Context, purpose: str, channel: Channel, batch: list[Numbered], with_links: bool
) -> bytes:
    parsed: list[tuple[int, s.ContactValue | None, str | None]] = []
    for number, raw in batch:
        if raw is None:
            parsed.append((number, None, f"line longer than {MAX_LINE_BYTES} bytes"))
            continue
        try:
            parsed.append((number, _decode_line(raw).to, None))
        except msgspec.DecodeError as exc:
            parsed.append((number, None, str(exc).replace("$.", "")))
    values = [contact_value(to) for _, to, _ in parsed if to is not None]
    checked = await checks.check_many(ctx, purpose, channel, values) if values else []
    minted = (
        await links.for_allowed_emails(ctx, purpose, channel, values, [a.allowed for a in checked])
        if with_links and values
        else [None] * len(checked)
    )
    answers = iter(zip(checked, minted, strict=True))
    out: list[_Answered | _Refused] = []
    for number, to, error in parsed:
        if error is not None or to is None:
            out.append(_Refused(number, error or ""))
        else:
            answer, own = next(answers)
            out.append(
                _Answered(
                    number,
                    to,
                    answer.allowed,
                    answer.reason,
                    answer.degraded,
                    presenters.links(own) if own is not None else None,
                )
            )
    return _encode_lines(out)
