"""Minting the links a mailing tool puts in every marketing message (RFC 8058 one-click)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody

from consent_service.api import presenters
from consent_service.api import schemas as s
from consent_service.api.dependencies import Ctx
from consent_service.api.inputs import contact_value
from consent_service.api.security import needs
from consent_service.domain.keys import KeyScope
from consent_service.services import links


class LinkController(Controller):
    path = "/v1/unsubscribe-links"
    tags = ["links"]

    @post(
        "/",
        opt=needs(KeyScope.CHECKS),
        status_code=201,
        summary="Unsubscribe and preferences links for one address",
    )
    async def mint(self, ctx: Ctx, data: JSONBody[s.UnsubscribeLinkIn]) -> s.UnsubscribeLinkOut:
        minted = await links.mint(ctx, contact_value(data.to), data.channel, data.purpose, data.language)
        return presenters.links(minted)
