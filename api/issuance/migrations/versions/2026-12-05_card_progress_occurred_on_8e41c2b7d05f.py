"""card progress occurred on

Revision ID: 8e41c2b7d05f
Revises: 5b0e7d3f91a2
Create Date: 2026-12-05 15:40:00

Progress lists filtered by date used the time the change was recorded. A 交付済結果 file
imported a week after the counter handed the cards over counted them in the wrong week.
``card_progress.occurred_on`` keeps the 実施日 of the event that set the phase; existing
rows take it from that event.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8e41c2b7d05f"
down_revision = "5b0e7d3f91a2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_progress", sa.Column("occurred_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE card_progress SET occurred_on = progress_events.occurred_on"
        " FROM progress_events"
        " WHERE progress_events.id = card_progress.last_event_id"
        " AND progress_events.occurred_on IS NOT NULL"
    )
    op.create_index(
        op.f("ix_card_progress_occurred_on"), "card_progress", ["occurred_on"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_card_progress_occurred_on"), table_name="card_progress")
    op.drop_column("card_progress", "occurred_on")
