"""progress exchange and visitors

Revision ID: 3d975bf601c5
Revises: bbe5e6e8a0c3
Create Date: 2026-11-26 04:18:51.333791
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "3d975bf601c5"
down_revision = "bbe5e6e8a0c3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
