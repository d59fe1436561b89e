"""the lawful basis on each consent event, as it stood when recorded

A grant must show the basis it rested on (LEGAL #1), not whatever the catalogue says later. Events
recorded before this was kept get NULL: the basis was not recorded at the time, and guessing it from
today's catalogue would be the very thing this column exists to avoid. Stepping down is refused once
any event holds a basis (it is sealed into the event's hash).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("basis", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Each basis is sealed into its event's hash: dropping it would leave an audit chain that no longer
    # verifies and a record that cannot show what a grant rested on. Refuse while any event holds one.
    sealed = op.get_bind().execute(sa.text("SELECT count(*) FROM consent_events WHERE basis IS NOT NULL"))
    if sealed.scalar_one():
        raise RuntimeError(
            "refusing to drop consent_events.basis: events hold a sealed lawful basis, and the hash chain"
            " would no longer verify; restore a backup taken before 0012 instead"
        )
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_column("basis")
