"""access_log_prune is not executable by every role

Revision ID: c4e8a2f6b9d1
Revises: a1f3c8e2d7b4
Create Date: 2026-11-26 12:00:00

Why: PostgreSQL lets PUBLIC execute a new function, and access_log_prune is SECURITY
DEFINER, so any role of the database (a read-only reporting role, say) could prune the
access log through it. Only its owner may now; grant EXECUTE to the role that runs
archive-and-prune where roles are separate (api/core/audit/README.md).
"""

from __future__ import annotations

from alembic import op

revision = "c4e8a2f6b9d1"
down_revision = "a1f3c8e2d7b4"
branch_labels = None
depends_on = None

_FUNCTION = "access_log_prune(bigint, text, text, text, text, text)"


def upgrade() -> None:
    op.execute(f"REVOKE EXECUTE ON FUNCTION {_FUNCTION} FROM PUBLIC")


def downgrade() -> None:
    op.execute(f"GRANT EXECUTE ON FUNCTION {_FUNCTION} TO PUBLIC")
