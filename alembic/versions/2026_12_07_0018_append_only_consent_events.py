"""append-only consent events: the database refuses UPDATE, DELETE and TRUNCATE on the ledger

Until now only the hash chain noticed a changed event, after the fact (LEGAL #31). The one change the
service itself makes is erasure's: it blanks an erased person's evidence (``evidence = {}``) and
leaves every other field, and the evidence's hash, as they were; so that alone is let through. Blank
evidence on someone not erased is still named by ``audit verify``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "consent events are append-only: only erasure may blank the evidence of one"

#: Every column but the evidence, as the table stands at this revision. SQLite cannot compare whole
#: rows, so its trigger names each; a column added later must be added here by its migration
#: (tests/integration/test_append_only.py tries every column the models hold).
_KEPT = (
    "id",
    "seq",
    "person_id",
    "purpose",
    "channel",
    "decision",
    "effective_at",
    "recorded_at",
    "source",
    "actor",
    "notice_id",
    "evidence_hash",
    "prev_hash",
    "hash",
    "evidence_gaps",
    "basis",
)

_SQLITE_NO_DELETE = f"""
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END
"""
_SQLITE_NO_UPDATE = f"""
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
WHEN NEW.evidence IS NOT '{{}}' OR {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _KEPT)}
BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END
"""
# PostgreSQL compares whole rows, so a column added later is covered without touching this.
_POSTGRES_FUNCTION = f"""
CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.evidence::jsonb = '{{}}'::jsonb
       AND to_jsonb(NEW) - 'evidence' = to_jsonb(OLD) - 'evidence' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{REFUSAL}';
END $$
"""
_POSTGRES_ROWS = """
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
FOR EACH ROW EXECUTE FUNCTION consent_events_append_only()
"""
_POSTGRES_TRUNCATE = """
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
FOR EACH STATEMENT EXECUTE FUNCTION consent_events_append_only()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        op.execute(_POSTGRES_ROWS)
        op.execute(_POSTGRES_TRUNCATE)
    else:
        op.execute(_SQLITE_NO_DELETE)
        op.execute(_SQLITE_NO_UPDATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER consent_events_no_truncate ON consent_events")
        op.execute("DROP TRIGGER consent_events_append_only ON consent_events")
        op.execute("DROP FUNCTION consent_events_append_only()")
    else:
        op.execute("DROP TRIGGER consent_events_no_delete")
        op.execute("DROP TRIGGER consent_events_no_update")
