"""access log chain and append-only trigger

Revision ID: 5c29e74719a5
Revises: 31ac0684a360
Create Date: 2026-11-26 04:10:35.220996
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "5c29e74719a5"
down_revision = "31ac0684a360"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
