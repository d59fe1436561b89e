"""Where each sealed value is held, and what it is indexed under: shared by the people repository and
the migration that sealed the values held before (``alembic/versions/…_0017_encrypt_contacts.py``)."""

from __future__ import annotations

from consent_service.domain.channels import ContactKind
from consent_service.domain.contacts import postcode_of
from consent_service.domain.sealing import Sealer, name_terms, postcode_term


def contact_place(contact_id: str) -> str:
    return f"contact_points.value:{contact_id}"


def name_place(person_id: str) -> str:
    return f"people.display_name:{person_id}"


def answer_place(owner: str, key: str) -> str:
    return f"idempotency_keys.body:{owner}:{key}"


def postcode_digest(sealer: Sealer, kind: str, value: str) -> str | None:
    return sealer.digest(postcode_term(postcode_of(value))) if kind == ContactKind.POSTAL.value else None


def name_digests(sealer: Sealer, name: str | None) -> set[str]:
    return {sealer.digest(term) for term in name_terms(name)}
