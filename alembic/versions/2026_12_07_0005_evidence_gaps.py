"""evidence gaps on consent events and suppressions

An opt-out is recorded whatever its paperwork lacks (DESIGN §4.1); the event names what was missing.
Existing events had complete paperwork (it was refused otherwise), so they get an empty list.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("evidence_gaps", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("evidence_gaps", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("evidence_gaps")
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_column("evidence_gaps")
