"""append-only tables refuse TRUNCATE: the access log and progress events

Revision ID: a1f3c8e2d7b4
Revises: 7e1d2c9a4b50
Create Date: 2026-11-26 11:20:00

Why: the row triggers refuse UPDATE and DELETE, but TRUNCATE fires no row trigger, so one
careless ``TRUNCATE residents CASCADE`` (say, to retry a first import) emptied every card's
progress history, and an emptied access log still verifies (a chain of nothing is whole).
A statement trigger now refuses it unless the transaction says it means it.
"""

from __future__ import annotations

from alembic import op

revision = "a1f3c8e2d7b4"
down_revision = "7e1d2c9a4b50"
branch_labels = None
depends_on = None

_TABLES = ("access_log", "progress_events")


# The setting is api/core/database.py's TRUNCATE_ON_PURPOSE; written out here so that this
# migration keeps its meaning whatever the code later becomes.
_FUNCTION = """
CREATE FUNCTION append_only_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('madoguchi.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'To empty it on purpose, set madoguchi.allow_truncate to on (SET LOCAL) '
                     'in the same transaction.';
END
$$
"""


def upgrade() -> None:
    op.execute(_FUNCTION)
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION append_only_refuse_truncate()"
        )


def downgrade() -> None:
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS append_only_refuse_truncate()")
