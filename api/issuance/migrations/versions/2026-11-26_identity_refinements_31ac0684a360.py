"""identity refinements

Revision ID: 31ac0684a360
Revises: 4969a48c6851
Create Date: 2026-11-26 04:10:32.440397
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "31ac0684a360"
down_revision = "4969a48c6851"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
