"""counter locations managed by staff

Revision ID: c257b234a503
Revises: c4e8a2f6b9d1
Create Date: 2026-12-05 07:15:31.225598

Staff now keep the zone's counter locations: an address, whether letters list the
location (``active``) and who named it by hand (``updated_by``). Rows already present were
learned from reservation imports and were listed on every letter, so they stay listed
(``active`` true) until staff say otherwise; locations the import adds from now on start
unlisted. The server defaults fill the existing rows only and are dropped again: the
application writes every column.
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "c257b234a503"
down_revision = "c4e8a2f6b9d1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("counter_locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("updated_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("counter_locations", schema=None) as batch_op:
        batch_op.alter_column("address", server_default=None)
        batch_op.alter_column("active", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("counter_locations", schema=None) as batch_op:
        batch_op.drop_column("updated_by")
        batch_op.drop_column("active")
        batch_op.drop_column("address")
