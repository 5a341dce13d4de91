"""identity refinements

Revision ID: 31ac0684a360
Revises: 4969a48c6851
Create Date: 2026-11-26 04:10:32.440397
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "31ac0684a360"
down_revision = "4969a48c6851"
branch_labels = None
depends_on = None


# Alembic's autogenerate does not compare CHECK constraints: keep these in step with
# api/core/identity/models.py by hand.
_CHECKS = (
    ("staff_accounts", "failed_attempts_not_negative", "failed_attempts >= 0"),
    (
        "staff_accounts",
        "validity_in_order",
        "valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until",
    ),
    ("staff_terminals", "fingerprint_canonical", "fingerprint ~ '^[0-9a-f]{40,128}$'"),
)


def upgrade() -> None:
    for table, name, condition in _CHECKS:
        op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)


def downgrade() -> None:
    for table, name, _ in reversed(_CHECKS):
        op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
