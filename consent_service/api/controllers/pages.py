"""The public pages families reach from a link: unsubscribe and preferences (DESIGN §4.8, §5), and the
accessibility statement every one of them links to.

No account, no API key: the signed token is the capability. Every page sends strict security headers
and no third-party asset. A token that is forged, tampered, truncated or signed by a key we do not
hold gets one and the same page, so the answer reveals nothing about which it was.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath
from litestar.response import Template

from consent_service.api.dependencies import BaseUrl, Ctx
from consent_service.api.languages import page_language
from consent_service.api.security import PUBLIC
from consent_service.domain.channels import Channel
from consent_service.domain.errors import InvalidInput, StoreUnavailable
from consent_service.domain.tokens import InvalidToken
from consent_service.services import links, preferences, unsubscribes

CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
SECURITY_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=CSP),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
]

TOKEN = FromPath[str]


def not_valid() -> Template:
    return Template("invalid.html", status_code=404)


def unavailable(request: Request[Any, Any, Any], exc: StoreUnavailable) -> Template:
    """The database is away: say so in words, for a family, rather than as an API problem."""
    headers = {h.name: h.value or "" for h in SECURITY_HEADERS} | {"Retry-After": "60"}
    return Template("unavailable.html", status_code=503, headers=headers)


@get(
    "/accessibility",
    opt=PUBLIC,
    response_headers=SECURITY_HEADERS,
    include_in_schema=False,
    sync_to_thread=False,
)
def accessibility_statement() -> Template:
    """How accessible the families' pages are and how to report a problem (the GOV.UK model statement)."""
    return Template("accessibility.html")


class UnsubscribePages(Controller):
    path = "/unsubscribe"
    opt = PUBLIC
    response_headers = SECURITY_HEADERS
    exception_handlers = {StoreUnavailable: unavailable}
    include_in_schema = False

    @get("/{token:str}")
    async def confirm(self, ctx: Ctx, token: TOKEN) -> Template:
        """Shows what will stop and one button. Changes nothing: mail scanners open links."""
        try:
            page = await unsubscribes.describe_unsubscribe(ctx, token)
        except InvalidToken:
            return not_valid()
        return Template("unsubscribe.html", context={"page": page, "channel": page.claim.channel.value})

    @post("/{token:str}", status_code=200)
    async def unsubscribe(
        self, ctx: Ctx, base_url: BaseUrl, request: Request[Any, Any, Any], token: TOKEN
    ) -> Template:
        """RFC 8058 one-click, or the page's button: whatever the body, a valid link unsubscribes."""
        try:
            page = await unsubscribes.unsubscribe(ctx, token)
        except InvalidToken:
            return not_valid()
        signed = ctx.links.sign(links.preferences_claim(page.claim))
        return Template(
            "unsubscribed.html",
            context={
                "page": page,
                "channel": page.claim.channel.value,
                "preferences_url": f"{base_url}/preferences/{signed}?lang={page_language(request)}",
            },
        )


class PreferencePages(Controller):
    path = "/preferences"
    opt = PUBLIC
    response_headers = SECURITY_HEADERS
    exception_handlers = {StoreUnavailable: unavailable}
    include_in_schema = False

    @get("/{token:str}")
    async def show(self, ctx: Ctx, request: Request[Any, Any, Any], token: TOKEN) -> Template:
        try:
            page = await preferences.describe_preferences(ctx, token, page_language(request))
        except InvalidToken:
            return not_valid()
        return Template("preferences.html", context={"page": page, "saved": False})

    @post("/{token:str}", status_code=200)
    async def save(self, ctx: Ctx, request: Request[Any, Any, Any], token: TOKEN) -> Template:
        """The choices form, or the "stop all marketing" button (a form of its own, on the same page)."""
        form = await request.form()
        language = page_language(request)
        if form.get("stop_all") == "yes":
            try:
                page = await preferences.stop_all_marketing(ctx, token, language)
            except InvalidToken:
                return not_valid()
            return Template("preferences.html", context={"page": page, "saved": False, "stopped": True})
        wanted: dict[tuple[str, Channel | None], bool] = {}
        versions: dict[str, int] = {}
        try:
            for name, value in form.items():
                kind, _, rest = str(name).partition(":")
                if kind == "choice":
                    # "choice:<purpose>:<channel>", or "choice:<purpose>" for a purpose on no channel.
                    code, on_a_channel, channel = rest.partition(":")
                    wanted[(code, Channel(channel) if on_a_channel else None)] = value == "yes"
                elif kind == "notice":
                    versions[rest] = int(str(value))
            page = await preferences.save_preferences(ctx, token, wanted, versions, language)
        except InvalidToken:
            return not_valid()
        except (ValueError, InvalidInput):
            page = await preferences.describe_preferences(ctx, token, language)
            return Template(
                "preferences.html",
                context={"page": page, "saved": False, "error": True},
                status_code=422,
            )
        return Template("preferences.html", context={"page": page, "saved": True})
