"""suppression notes: the suppression list keeps codes, never free text

A suppression entry's free-text ``note`` could hold a name, an address or what a caller said, kept for
as long as the entry (for ever). The list keeps only what honouring the opt-out needs (UK GDPR
Art 5(1)(c); docs/COMPLIANCE.md row 15): the ``note`` column is dropped with its contents, a ``how``
code (how a request staff added reached them) takes its place, and each lift reason becomes a code:
``regranted`` where the service lifted the entry for the person's own grant, else
``recorded_before_codes``. Kept idempotency results of suppressions lose their ``note`` too, so the
text survives nowhere.

The downgrade gives the ``note`` column back empty and leaves the lift reasons as codes: the text
was dropped and cannot be restored (only a backup taken before this step holds it).

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07 12:30:00.000000
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How the service worded the lift reason it wrote for a person's own grant, before codes.
_REGRANTED_TEXT = "re-granted by the person%"
#: The keys of a suppression entry, as kept in an idempotency result (a domain result or an answer).
_ENTRY_KEYS = frozenset({"fingerprint", "scope", "reason", "note"})


def _without_notes(value: Any) -> Any:
    """``value`` with the ``note`` of every suppression entry in it removed; anything else kept."""
    if isinstance(value, list):
        return [_without_notes(item) for item in value]
    if isinstance(value, dict):
        kept = {key: _without_notes(item) for key, item in value.items()}
        if value.keys() >= _ENTRY_KEYS:
            kept.pop("note")
        return kept
    return value


def _scrub_kept_results() -> None:
    """Idempotency records hold ``result:`` and a domain result as JSON, or (older) the answer given."""
    connection = op.get_bind()
    keys = sa.table("idempotency_keys", sa.column("owner"), sa.column("key"), sa.column("body", sa.Text))
    rows = connection.execute(sa.select(keys).where(keys.c.body.like('%"note"%'))).all()
    for row in rows:
        prefix = "result:" if row.body.startswith("result:") else ""
        try:
            kept = json.loads(row.body[len(prefix) :])
        except ValueError:
            continue
        scrubbed = _without_notes(kept)
        if scrubbed != kept:
            connection.execute(
                sa.update(keys)
                .where(keys.c.owner == row.owner, keys.c.key == row.key)
                .values(body=prefix + json.dumps(scrubbed, separators=(",", ":")))
            )


def upgrade() -> None:
    suppressions = sa.table("suppressions", sa.column("lift_reason", sa.Text))
    op.execute(
        sa.update(suppressions)
        .where(suppressions.c.lift_reason.like(_REGRANTED_TEXT))
        .values(lift_reason="regranted")
    )
    op.execute(
        sa.update(suppressions)
        .where(
            suppressions.c.lift_reason.is_not(None),
            suppressions.c.lift_reason != "regranted",
        )
        .values(lift_reason="recorded_before_codes")
    )
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("note")
        batch.add_column(sa.Column("how", sa.String(16), nullable=True))
        batch.alter_column(
            "lift_reason", existing_type=sa.Text(), type_=sa.String(32), existing_nullable=True
        )
    _scrub_kept_results()


def downgrade() -> None:
    # The notes' text was dropped by the upgrade: the column comes back empty, and lift reasons stay
    # codes (a Text column holds them as they are).
    with op.batch_alter_table("suppressions") as batch:
        batch.alter_column(
            "lift_reason", existing_type=sa.String(32), type_=sa.Text(), existing_nullable=True
        )
        batch.drop_column("how")
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
