"""encrypt contacts: contact details and names sealed at rest (AES-256-GCM), found by keyed digests

Every contact point's value, every person's name and every answer kept for an idempotent replay
(which can hold both) is sealed under ``CONSENT_ENCRYPTION_KEY`` (``adapters/sealing.py``), bound to
its row. A contact point is still found by its fingerprint; a
postal address now also carries its postcode's keyed digest, and each name the keyed digests of its
runs of two and three characters (``person_name_terms``), for the staff search. The key is the one
the migrating command was given, else the environment's (as ``env.py`` finds the database). Down
again, the values are opened back into plain text.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa

from alembic import op
from consent_service.adapters.sealing import AesGcmSealer, is_sealed
from consent_service.config import Settings
from consent_service.db.sealed import answer_place, contact_place, name_digests, name_place, postcode_digest
from consent_service.domain.sealing import SealedUnreadable

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@cache
def _sealer() -> AesGcmSealer:
    # Only asked for when a row needs it: an empty database migrates without reading the environment.
    key = op.get_context().config.attributes.get("encryption_key")  # type: ignore[union-attr]
    return AesGcmSealer(key or Settings.from_env().encryption_key)


def _rows(statement: str) -> list[Any]:
    return list(op.get_bind().execute(sa.text(statement)))


def _opens(value: str, where: str) -> bool:
    # Not the prefix alone: a name typed as "v1:…" is plain text, and is sealed like any other.
    try:
        _sealer().open(value, where)
    except SealedUnreadable:
        return False
    return True


def _turned(value: str, where: str, sealing: bool) -> str | None:
    """The value sealed or opened, or None when it already is as wanted (a step run again)."""
    if sealing:
        return None if is_sealed(value) and _opens(value, where) else _sealer().seal(value, where)
    return _sealer().open(value, where) if is_sealed(value) else None


def _contact(row: Any, sealing: bool) -> dict[str, Any] | None:
    value = _turned(row.value, contact_place(row.id), sealing)
    if value is None:
        return None
    digest = postcode_digest(_sealer(), row.kind, row.value) if sealing else None
    return {"id": row.id, "value": value, "postcode_index": digest}


def _answer(row: Any, sealing: bool) -> dict[str, Any] | None:
    body = _turned(row.body, answer_place(row.owner, row.key), sealing)
    return None if body is None else {"owner": row.owner, "key": row.key, "body": body}


def _name(row: Any, sealing: bool) -> dict[str, Any] | None:
    name = _turned(row.display_name, name_place(row.id), sealing)
    return None if name is None else {"id": row.id, "name": name}


_REWRITES = (
    (
        "SELECT id, kind, value FROM contact_points",
        "UPDATE contact_points SET value = :value, postcode_index = :postcode_index WHERE id = :id",
        _contact,
    ),
    (
        "SELECT owner, key, body FROM idempotency_keys WHERE body <> ''",
        "UPDATE idempotency_keys SET body = :body WHERE owner = :owner AND key = :key",
        _answer,
    ),
    (
        "SELECT id, display_name FROM people WHERE display_name IS NOT NULL",
        "UPDATE people SET display_name = :name WHERE id = :id",
        _name,
    ),
)


def _rewrite_all(sealing: bool) -> None:
    for query, statement, turn in _REWRITES:
        changed = [values for row in _rows(query) if (values := turn(row, sealing)) is not None]
        if changed:
            op.get_bind().execute(sa.text(statement), changed)


def upgrade() -> None:
    _sealer.cache_clear()
    with op.batch_alter_table("contact_points") as batch:
        batch.alter_column(
            "value", type_=sa.Text(), existing_type=sa.String(length=400), existing_nullable=False
        )
        batch.add_column(sa.Column("postcode_index", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_contact_points_postcode_index"), ["postcode_index"], unique=False)
    with op.batch_alter_table("people") as batch:
        batch.alter_column(
            "display_name", type_=sa.Text(), existing_type=sa.String(length=200), existing_nullable=True
        )
    op.create_table(
        "person_name_terms",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_person_name_terms_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", "term", name=op.f("pk_person_name_terms")),
    )
    op.create_index(op.f("ix_person_name_terms_term"), "person_name_terms", ["term"], unique=False)

    _rewrite_all(sealing=True)
    named = _rows("SELECT id, display_name FROM people WHERE display_name IS NOT NULL")
    terms = [
        {"person_id": p.id, "term": term}
        for p in named
        for term in name_digests(_sealer(), _sealer().open(p.display_name, name_place(p.id)))
    ]
    if terms:
        op.get_bind().execute(
            sa.text("INSERT INTO person_name_terms (person_id, term) VALUES (:person_id, :term)"), terms
        )


def downgrade() -> None:
    _sealer.cache_clear()
    _rewrite_all(sealing=False)

    op.drop_index(op.f("ix_person_name_terms_term"), table_name="person_name_terms")
    op.drop_table("person_name_terms")
    with op.batch_alter_table("people") as batch:
        batch.alter_column(
            "display_name", type_=sa.String(length=200), existing_type=sa.Text(), existing_nullable=True
        )
    with op.batch_alter_table("contact_points") as batch:
        batch.drop_index(batch.f("ix_contact_points_postcode_index"))
        batch.drop_column("postcode_index")
        batch.alter_column(
            "value", type_=sa.String(length=400), existing_type=sa.Text(), existing_nullable=False
        )
