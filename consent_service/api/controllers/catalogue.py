"""Purposes, notice wordings and API keys: read by any key, written by admin keys."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.security import needs
from consent_service.domain.channels import Channel
from consent_service.domain.keys import ApiKey, KeyScope
from consent_service.domain.purposes import Purpose
from consent_service.services import catalogue, keys

ANY_KEY = needs(*KeyScope)


class CatalogueController(Controller):
    path = "/v1"
    tags = ["catalogue"]

    @get("/purposes", opt=ANY_KEY, summary="The purpose catalogue")
    async def purposes(self, ctx: Ctx) -> s.PurposesOut:
        await ctx.catalogue.reload()
        return s.PurposesOut(items=[presenters.purpose(p) for p in ctx.catalogue.catalogue])

    @post(
        "/purposes", opt=needs(KeyScope.ADMIN), status_code=201, summary="Add a purpose (immutable once made)"
    )
    async def add_purpose(self, ctx: Ctx, data: JSONBody[s.PurposeIn]) -> s.PurposeOut:
        purpose = Purpose(
            code=data.code,
            category=data.category,
            bases={(None if ch == "none" else Channel(ch)): basis for ch, basis in data.bases.items()},
            description=data.description,
            shares_with_controllers=data.shares_with_controllers,
        )
        return presenters.purpose(
            await catalogue.add_purpose(ctx.catalogue, ctx.clock, purpose, ctx.org_type)
        )

    @get("/notices", opt=ANY_KEY, summary="Notice wordings, oldest version first")
    async def notices(
        self,
        ctx: Ctx,
        purpose: Annotated[str | None, QueryParameter(max_length=64)] = None,
        language: Annotated[
            str | None,
            QueryParameter(
                max_length=35, description="Only wordings in this language (as published, e.g. en, cy)"
            ),
        ] = None,
    ) -> s.NoticesOut:
        await ctx.catalogue.reload()
        found = [
            n
            for n in ctx.catalogue.notices_by_id.values()
            if purpose in (None, n.purpose) and language in (None, n.language)
        ]
        found.sort(key=lambda n: (n.purpose, n.version))
        return s.NoticesOut(items=[presenters.notice(n) for n in found])

    @post(
        "/notices",
        opt=needs(KeyScope.ADMIN),
        status_code=201,
        summary="Publish a new wording (a new version), in English unless `language` says otherwise",
        description=(
            "Versions are numbered per purpose across languages. The families' pages show the newest "
            "wording in the family's language, else the newest English one: a Welsh wording never "
            "replaces the English one for English readers."
        ),
    )
    async def add_notice(self, ctx: Ctx, data: JSONBody[s.NoticeIn]) -> s.NoticeOut:
        notice = await catalogue.add_notice(
            ctx.catalogue,
            ctx.clock,
            data.purpose,
            data.text,
            data.language,
            data.published_at,
            data.kind,
            tuple(data.controllers),
        )
        return presenters.notice(notice)

    @post("/keys", opt=needs(KeyScope.ADMIN), status_code=201, summary="Make an API key (shown once)")
    async def add_key(
        self, ctx: Ctx, request: Request[ApiKey, Any, Any], data: JSONBody[s.KeyIn]
    ) -> s.KeyOut:
        key, secret = await keys.create_key(
            ctx.store, ctx.clock, data.name, frozenset(data.scopes), request.user.scopes, data.expires_at
        )
        return s.KeyOut(
            id=key.id,
            name=key.name,
            scopes=sorted(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            key=secret,
        )

    @get("/keys", opt=needs(KeyScope.ADMIN), summary="Every API key, revoked and expired ones too")
    async def list_keys(self, ctx: Ctx) -> s.KeysOut:
        now = ctx.clock.now()
        return s.KeysOut(items=[presenters.api_key(k, now) for k in await keys.list_keys(ctx.store)])

    @delete(
        "/keys/{key_id:uuid}",
        opt=needs(KeyScope.ADMIN),
        status_code=200,
        summary="Revoke an API key: refused on every worker within 1 s of this answer",
    )
    async def revoke_key(self, ctx: Ctx, key_id: FromPath[UUID]) -> s.KeyInfoOut:
        return presenters.api_key(await keys.revoke_key(ctx.key_ring, str(key_id)), ctx.clock.now())
