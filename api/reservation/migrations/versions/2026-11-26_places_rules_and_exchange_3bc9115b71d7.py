"""places rules and exchange

Revision ID: 3bc9115b71d7
Revises: 4e5a2ce5cbab
Create Date: 2026-11-26 04:18:48.707878
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "3bc9115b71d7"
down_revision = "4e5a2ce5cbab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
