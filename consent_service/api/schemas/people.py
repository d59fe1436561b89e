"""People, their contact points, and a registration (a person with their first choices)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from consent_service.api.schemas.choices import Choices, ChoiceStateOut, EvidenceIn, ReceiptOut
from consent_service.api.schemas.common import ApiSource, ContactValue, In, Out, Text200, Time
from consent_service.domain.channels import ContactKind
from consent_service.domain.children import BIRTH_MONTH

#: Year and month of birth, never the day (least data, LEGAL #30).
BirthMonth = Annotated[str, Meta(pattern=BIRTH_MONTH.pattern, examples=["2014-06"])]


class ContactIn(In, kw_only=True, frozen=True):
    kind: ContactKind
    value: ContactValue


class PersonIn(In, kw_only=True, frozen=True):
    reference: Text200 | None = None
    household: Text200 | None = None
    display_name: Text200 | None = None
    contacts: Annotated[list[ContactIn], Meta(max_length=20)] = []
    birth_month: BirthMonth | None = None


class RegistrationIn(In, kw_only=True, frozen=True):
    person: PersonIn
    choices: Choices = []
    source: ApiSource
    effective_at: Time | None = None
    evidence: EvidenceIn | None = None


class PersonChangeIn(In, kw_only=True, frozen=True):
    """Rectification: fields given are set (``null`` clears one); fields left out stay as they are."""

    reference: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    household: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    display_name: Text200 | msgspec.UnsetType | None = msgspec.UNSET
    birth_month: BirthMonth | msgspec.UnsetType | None = msgspec.UNSET


class ContactOut(Out, kw_only=True):
    id: str
    kind: ContactKind
    value: str


class PersonOut(Out, kw_only=True):
    id: str
    reference: str | None
    household: str | None
    display_name: str | None
    created_at: datetime
    contacts: list[ContactOut]
    #: ``YYYY-MM`` when held: a child is told from an adult by it (LEGAL #30).
    birth_month: str | None = None
    choices: list[ChoiceStateOut] | None = None


class PeopleOut(Out, kw_only=True):
    items: list[PersonOut]


class RegistrationOut(Out, kw_only=True):
    person_id: str
    receipt: ReceiptOut
