"""Purposes: why the organisation contacts people or uses their data, each with a legal basis per channel.

The catalogue is data, not code: this module holds the shape, the default entries seeded on first
start, and the checks a choice must pass against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from consent_service.domain.channels import Channel
from consent_service.domain.errors import FieldError, InvalidInput


class Category(StrEnum):
    MARKETING = "marketing"
    ADMINISTRATIVE = "administrative"
    #: A public authority's information given in performance of its public task (DPA 2018 s.122(5)):
    #: not marketing, so marketing choices do not block it; restrictions, erasure and invalid addresses
    #: do. Only a ``public_authority`` may have purposes of this category (LEGAL #17).
    PUBLIC_TASK = "public_task"


class OrgType(StrEnum):
    """What the deploying organisation is in law: it decides which soft opt-in and categories exist."""

    CHARITY = "charity"
    PUBLIC_AUTHORITY = "public_authority"
    COMPANY = "company"


class Basis(StrEnum):
    CONSENT = "consent"
    LEGITIMATE_INTERESTS = "legitimate_interests"
    #: PECR reg 22(3), and for charities reg 22(3A): details collected while the person supported or
    #: asked about the work, an opt-out offered then, and not taken since.
    SOFT_OPT_IN = "soft_opt_in"
    #: UK GDPR Art 6(1)(e): a public authority's task; only for purposes of the public_task category.
    PUBLIC_TASK = "public_task"


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose and the basis it rests on for each channel (``None`` = a purpose with no channel)."""

    code: str
    category: Category
    bases: Mapping[Channel | None, Basis]
    description: str = ""
    #: Whether other controllers rely on a consent to this purpose (a partnership's shared referral
    #: or newsletter). A flag, not a category: sharing cuts across marketing and administrative use.
    #: A grant to a sharing purpose must cite a wording that names them (UK GDPR Art 7(2), Recital
    #: 42: consent is informed only if the person knows each controller relying on it; LEGAL #29).
    shares_with_controllers: bool = False

    @property
    def channels(self) -> tuple[Channel | None, ...]:
        return tuple(self.bases)

    def basis_for(self, channel: Channel | None) -> Basis | None:
        return self.bases.get(channel)


_CONTACT_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE)

#: PECR reg 22: marketing by email or text needs consent or a soft opt-in, never legitimate interests.
ELECTRONIC_MAIL = (Channel.EMAIL, Channel.SMS)


def basis_refusals(purpose: Purpose) -> list[FieldError]:
    """What the law does not let a purpose rest on, one error per channel (none if it may stand)."""
    if purpose.category is not Category.MARKETING:
        return []
    return [
        FieldError(
            f"bases.{channel.value}",
            f"marketing by {channel.value} needs consent or a soft opt-in (PECR reg 22),"
            " not legitimate interests",
        )
        for channel in ELECTRONIC_MAIL
        if purpose.basis_for(channel) is Basis.LEGITIMATE_INTERESTS
    ]


DEFAULT_CATALOGUE: tuple[Purpose, ...] = (
    Purpose(
        "marketing",
        Category.MARKETING,
        {**dict.fromkeys(_CONTACT_CHANNELS, Basis.CONSENT), Channel.POST: Basis.LEGITIMATE_INTERESTS},
        "News, appeals and invitations from the organisation.",
    ),
    Purpose(
        "testimonial",
        Category.MARKETING,
        {None: Basis.CONSENT},
        "Using the family's story in leaflets or on the website.",
    ),
    # A message asking someone to renew or update their consent is itself marketing (ICO v Flybe and
    # Honda, 2017): its own purpose, on consent on every channel, post included, so that a person who
    # said no to marketing letters is not written to and asked to think again.
    Purpose(
        "consent_renewal",
        Category.MARKETING,
        dict.fromkeys(Channel, Basis.CONSENT),
        "Asking whether you are still happy to hear from us.",
    ),
    Purpose(
        "administrative",
        Category.ADMINISTRATIVE,
        dict.fromkeys(Channel, Basis.LEGITIMATE_INTERESTS),
        "Service messages: appointments, changes, closures. Never blocked by a marketing opt-out.",
    ),
)


@dataclass(slots=True)
class Catalogue:
    """The purposes in force, looked up by code."""

    purposes: dict[str, Purpose] = field(default_factory=dict)

    @classmethod
    def of(cls, purposes: Iterable[Purpose]) -> Catalogue:
        return cls({purpose.code: purpose for purpose in purposes})

    def __contains__(self, code: object) -> bool:
        return code in self.purposes

    def __iter__(self) -> Iterator[Purpose]:
        return iter(self.purposes.values())

    def get(self, code: str) -> Purpose | None:
        return self.purposes.get(code)

    def add(self, purpose: Purpose) -> None:
        self.purposes[purpose.code] = purpose

    def require(self, code: str, channel: Channel | None, field_prefix: str = "") -> Purpose:
        """The purpose, if it exists and is used on ``channel``; otherwise a field-level error."""
        purpose = self.purposes.get(code)
        if purpose is None:
            raise InvalidInput.one(f"{field_prefix}purpose", f"unknown purpose {code!r}")
        if channel not in purpose.bases:
            allowed = ", ".join(c.value if c else "(none)" for c in purpose.bases) or "none"
            raise InvalidInput.one(
                f"{field_prefix}channel",
                f"purpose {code!r} is not used on channel {channel.value if channel else '(none)'};"
                f" its channels: {allowed}",
            )
        return purpose


def check_category(purpose: Purpose, org: OrgType) -> None:
    """Refuse a purpose whose category this organisation cannot have (public task: public authorities)."""
    if purpose.category is Category.PUBLIC_TASK and org is not OrgType.PUBLIC_AUTHORITY:
        raise InvalidInput.one(
            "category",
            f"the public_task category is only for a public_authority; this organisation is a {org.value}"
            " (CONSENT_ORG_TYPE)",
        )
    if Basis.PUBLIC_TASK in purpose.bases.values() and purpose.category is not Category.PUBLIC_TASK:
        raise InvalidInput.one(
            "bases", "the public_task basis is only for a purpose of the public_task category"
        )
