"""the access log refuses TRUNCATE

Revision ID: b7d2e9f4c1a6
Revises: 7890273dd5bf
Create Date: 2026-11-26 11:20:00

Why: the row triggers refuse UPDATE and DELETE, but TRUNCATE fires no row trigger, and an
emptied access log still verifies (a chain of nothing is whole). A statement trigger now
refuses it unless the transaction says it means it.
"""

from __future__ import annotations

from alembic import op

revision = "b7d2e9f4c1a6"
down_revision = "7890273dd5bf"
branch_labels = None
depends_on = None

_TABLES = ("access_log",)


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
