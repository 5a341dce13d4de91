"""access log chain and append-only trigger

Revision ID: 33eaeddc7283
Revises: be8454fda3c1
Create Date: 2026-11-26 04:10:36.493309
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "33eaeddc7283"
down_revision = "be8454fda3c1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
