"""identity refinements

Revision ID: be8454fda3c1
Revises: d8677d37980f
Create Date: 2026-11-26 04:10:33.913809
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "be8454fda3c1"
down_revision = "d8677d37980f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
