"""unknown_id_lockouts records its last failure, so stale rows can be pruned

Revision ID: e3a7c5d1b9f2
Revises: d9b3f7a1e5c2
Create Date: 2026-12-05 07:50:00

Why: every distinct wrong reservation ID typed at the login adds a row, and nothing ever
removed one; the login's occasional prune now deletes rows a day after their last failure
(and after any lock has run out).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e3a7c5d1b9f2"
down_revision = "d9b3f7a1e5c2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "unknown_id_lockouts",
        sa.Column(
            "last_failed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("unknown_id_lockouts", "last_failed_at")
