"""staff roles (staff, lead) and the staff audit trail (append-only)

Accounts that exist before this revision become leads, so nobody who could manage the service before is
locked out of it after.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY_SQLITE = """
CREATE TRIGGER staff_audit_no_{verb} BEFORE {verb} ON staff_audit
BEGIN SELECT RAISE(ABORT, 'the staff audit trail is append-only'); END
"""
_APPEND_ONLY_POSTGRES_FUNCTION = """
CREATE FUNCTION staff_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the staff audit trail is append-only'; END $$
"""
_APPEND_ONLY_POSTGRES_TRIGGER = """
CREATE TRIGGER staff_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON staff_audit
FOR EACH STATEMENT EXECUTE FUNCTION staff_audit_append_only()
"""


def upgrade() -> None:
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=20), nullable=False, server_default="lead"))
    op.create_table(
        "staff_audit",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_staff_audit")),
    )
    op.create_index(op.f("ix_staff_audit_at"), "staff_audit", ["at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_POSTGRES_FUNCTION)
        op.execute(_APPEND_ONLY_POSTGRES_TRIGGER)
    else:
        op.execute(_APPEND_ONLY_SQLITE.format(verb="UPDATE"))
        op.execute(_APPEND_ONLY_SQLITE.format(verb="DELETE"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER staff_audit_append_only ON staff_audit")
        op.execute("DROP FUNCTION staff_audit_append_only()")
    op.drop_index(op.f("ix_staff_audit_at"), table_name="staff_audit")
    op.drop_table("staff_audit")
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.drop_column("role")
