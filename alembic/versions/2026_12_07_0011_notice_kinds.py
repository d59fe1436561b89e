"""notice kinds: a consent request, a privacy notice or terms

Only a consent request can back a grant (UK GDPR Art 7(2)). Every wording published before had to
back grants, so each is a consent request.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice_versions") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), server_default="consent_request", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_versions") as batch:
        batch.drop_column("kind")
