"""partnership controllers: a wording names the other controllers relying on it; a purpose may share

A grant to a purpose shared with other controllers must cite a wording that names them (LEGAL #29).
Every earlier wording named none and every earlier purpose was the organisation's own.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice_versions") as batch:
        batch.add_column(sa.Column("controllers", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("purposes") as batch:
        batch.add_column(
            sa.Column("shares_with_controllers", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("purposes") as batch:
        batch.drop_column("shares_with_controllers")
    with op.batch_alter_table("notice_versions") as batch:
        batch.drop_column("controllers")
