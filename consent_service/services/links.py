"""Links for families: minting unsubscribe and preferences links, and whom a link speaks for.

A family needs no account: the signed link is the capability. Opening a link changes nothing (mail
scanners open links); only a POST unsubscribes or saves preferences (``services/unsubscribes.py``,
``services/preferences.py``), and only after commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consent_service.domain.channels import CHANNEL_KIND, Channel
from consent_service.domain.contacts import ContactPoint, contact_point, mask
from consent_service.domain.errors import InvalidContact, InvalidInput
from consent_service.domain.people import first_name
from consent_service.domain.ports import UnitOfWork
from consent_service.domain.purposes import Category
from consent_service.domain.tokens import LinkClaim, LinkKind
from consent_service.services.context import Context

#: RFC 8058 §3.1: the header that makes ``List-Unsubscribe``'s HTTPS link a one-click POST.
ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@dataclass(frozen=True, slots=True)
class Links:
    """One address's links under the public base URL, and the headers a message to it carries."""

    url: str
    preferences_url: str
    #: ``List-Unsubscribe`` (RFC 2369: the HTTPS link, then the ``mailto:`` if one is configured) and
    #: ``List-Unsubscribe-Post`` (RFC 8058).
    headers: Mapping[str, str]


async def mint(
    ctx: Context,
    to: str | Mapping[str, Any],
    channel: Channel,
    purpose_code: str,
    language: str | None = None,
) -> Links:
    """Tokens for one address: an unsubscribe from one marketing purpose, and its preferences page;
    with ``language``, both pages open in it (outside the signature: a reader may switch anyway)."""
    purpose = await ctx.catalogue.purpose(purpose_code, channel)
    if purpose.category is not Category.MARKETING:
        raise InvalidInput.one("purpose", "only marketing can be unsubscribed from")
    try:
        point = contact_point(CHANNEL_KIND[channel], to, ctx.default_region)
    except InvalidContact as exc:
        raise InvalidInput.one("to", str(exc)) from exc
    return _signed(ctx, ctx.fingerprint(point), channel, purpose.code, language)


def _signed(
    ctx: Context, fingerprint: str, channel: Channel, purpose: str, language: str | None = None
) -> Links:
    """The one place links are made: two HMACs and some text, no database, so a bulk check can make
    one per allowed address."""
    token = ctx.links.sign(LinkClaim(LinkKind.UNSUBSCRIBE, fingerprint, channel, purpose))
    preferences = ctx.links.sign(preferences_claim(LinkClaim(LinkKind.UNSUBSCRIBE, fingerprint, channel)))
    query = f"?lang={language}" if language else ""
    url = f"{ctx.public_base_url}/unsubscribe/{token}{query}"
    targets = [f"<{url}>"]
    if ctx.unsubscribe_mailto:
        # The token in the subject lets whoever reads the mailbox act on exactly this opt-out.
        targets.append(f"<mailto:{ctx.unsubscribe_mailto}?subject=unsubscribe%20{token}>")
    return Links(
        url,
        f"{ctx.public_base_url}/preferences/{preferences}{query}",
        {"List-Unsubscribe": ", ".join(targets), **ONE_CLICK},
    )


async def for_allowed_emails(
    ctx: Context,
    purpose_code: str,
    channel: Channel | None,
    tos: Sequence[str | Mapping[str, Any] | None],
    allowed: Sequence[bool],
) -> list[Links | None]:
    """Each allowed marketing email's links, in the check's own answer (PECR reg 22(3)(c) and 23: no
    marketing email need go out without its opt-out, nor cost a mailing tool a call per recipient).
    None where there is nothing to unsubscribe from: a deny, another channel, a service message, a
    check by person."""
    found: list[Links | None] = [None] * len(allowed)
    if channel is not Channel.EMAIL:
        return found
    purpose = await ctx.catalogue.purpose(purpose_code, channel)
    if purpose.category is not Category.MARKETING:
        return found
    for i, (to, yes) in enumerate(zip(tos, allowed, strict=True)):
        if yes and to is not None:
            # An allowed answer was for an address that normalised, so this cannot fail.
            point = contact_point(CHANNEL_KIND[channel], to, ctx.default_region)
            found[i] = _signed(ctx, ctx.fingerprint(point), channel, purpose.code)
    return found


def preferences_claim(claim: LinkClaim) -> LinkClaim:
    """The preferences page for the address an unsubscribe link names."""
    return LinkClaim(LinkKind.PREFERENCES, claim.fingerprint, claim.channel)


@dataclass(frozen=True, slots=True)
class Addressee:
    """What a public page may show: the address masked, never in full."""

    masked: str | None
    person_ids: tuple[str, ...]
    #: Each person's first name (``domain/people.py: first_name``), or None where none is held: a
    #: shared address's page says whose choices it shows.
    names: tuple[str | None, ...] = ()

    @property
    def shared(self) -> bool:
        return len(self.person_ids) > 1


async def addressee_of(uow: UnitOfWork, claim: LinkClaim) -> Addressee:
    people = await uow.people.by_fingerprint(claim.fingerprint)
    living = [p for p in people if p.erased_at is None]
    value = next((c for p in living for c in p.contacts if c.fingerprint == claim.fingerprint), None)
    masked = mask(ContactPoint(value.kind, value.value)) if value else None
    return Addressee(masked, tuple(p.id for p in living), tuple(first_name(p.display_name) for p in living))
