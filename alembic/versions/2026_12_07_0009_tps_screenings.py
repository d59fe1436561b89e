"""TPS/CTPS screenings: each imported screening file, and the numbers found on a register by fingerprint

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tps_screenings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("register", sa.String(8), nullable=False),
        sa.Column("screened_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("numbers", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tps_screenings"),
        sa.UniqueConstraint("register", "screened_on", name="uq_tps_screenings_register_day"),
    )
    op.create_table(
        "tps_numbers",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("register", sa.String(8), nullable=False),
        sa.Column("screened_on", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "register", name="pk_tps_numbers"),
    )


def downgrade() -> None:
    op.drop_table("tps_numbers")
    op.drop_table("tps_screenings")
