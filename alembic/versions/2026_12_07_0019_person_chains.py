"""person chains: the ledger's hash chain is kept per person, with checkpoints of the heads

Until now every consent event joined one chain, and every write locked its head row through commit:
all writes in a deployment ran one at a time, and no two commits shared a disk flush. From here each
person's events form a chain of their own (``person_chains`` holds each head), so writes for
different people commit in parallel; checkpoints (``ledger_checkpoints``) record the heads that
moved, chained to each other by hash, so removing a person's events stays detectable.

The events already recorded keep the single chain they joined: ``ledger_head`` stops where it stands
and marks where that chain ends, and ``audit verify`` walks it as before, then each person's chain.
On PostgreSQL the events' sequence numbers now come from a sequence (``consent_events_seq``), which
writers take from without waiting for each other; on SQLite, where writers queue for the database's
own lock anyway, the next number is one past the largest.

The downgrade is refused once any event has joined a person's chain: the single-chain code would
find those events not linked to the one before them and call the ledger broken.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "person_chains",
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpointed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_person_chains_person_id_people")),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_chains")),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heads", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_checkpoint_heads",
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["ledger_checkpoints.id"],
            name=op.f("fk_ledger_checkpoint_heads_checkpoint_id_ledger_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", "person_id", name=op.f("pk_ledger_checkpoint_heads")),
    )
    op.create_index("ix_consent_events_chain", "consent_events", ["person_id", "seq"], unique=False)
    # The single chain's end stays where it is; a ledger that never had a head gets the empty one.
    head = bind.execute(sa.text("SELECT seq FROM ledger_head WHERE id = 1")).first()
    if head is None:
        bind.execute(
            sa.text("INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, :genesis)"),
            {"genesis": GENESIS_HASH},
        )
    if bind.dialect.name == "postgresql":
        last = bind.execute(
            sa.text(
                "SELECT greatest(coalesce(max(seq), 0), (SELECT seq FROM ledger_head WHERE id = 1))"
                " FROM consent_events"
            )
        ).scalar_one()
        op.execute(f"CREATE SEQUENCE consent_events_seq START WITH {int(last) + 1}")


def downgrade() -> None:
    bind = op.get_bind()
    chained = bind.execute(
        sa.text("SELECT count(*) FROM consent_events WHERE seq > (SELECT seq FROM ledger_head WHERE id = 1)")
    ).scalar_one()
    if chained:
        raise RuntimeError(
            "refusing to step below 0019: consent_events recorded since are chained per person, and the"
            " single-chain code before it would call the ledger broken; restore a backup taken before 0019"
        )
    if bind.dialect.name == "postgresql":
        op.execute("DROP SEQUENCE consent_events_seq")
    op.drop_index("ix_consent_events_chain", table_name="consent_events")
    op.drop_table("ledger_checkpoint_heads")
    op.drop_table("ledger_checkpoints")
    op.drop_table("person_chains")
