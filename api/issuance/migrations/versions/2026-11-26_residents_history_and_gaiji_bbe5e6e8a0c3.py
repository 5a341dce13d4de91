"""residents history and gaiji

Revision ID: bbe5e6e8a0c3
Revises: 5c29e74719a5
Create Date: 2026-11-26 04:18:50.030731
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "bbe5e6e8a0c3"
down_revision = "5c29e74719a5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
