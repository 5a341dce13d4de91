"""residents history and gaiji

Revision ID: bbe5e6e8a0c3
Revises: 5c29e74719a5
Create Date: 2026-11-26 04:18:50.030731
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "bbe5e6e8a0c3"
down_revision = "5c29e74719a5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_imports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("gaiji", sa.Integer(), nullable=False),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("applied_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('previewed', 'refused', 'applied')",
            name=op.f("ck_card_imports_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_imports")),
    )
    with op.batch_alter_table("card_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_imports_sha256"), ["sha256"], unique=False)

    op.create_table(
        "gaiji_substitutions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("character", sa.String(length=1), nullable=False),
        sa.Column("replacement", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "char_length(character) = 1", name=op.f("ck_gaiji_substitutions_one_character")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaiji_substitutions")),
    )
    with op.batch_alter_table("gaiji_substitutions", schema=None) as batch_op:
        batch_op.create_index("uq_gaiji_substitutions_character", ["character"], unique=True)

    op.create_table(
        "resident_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("card_import_id", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=True),
        sa.Column("changed_fields", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("previous", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_import_id"],
            ["card_imports.id"],
            name=op.f("fk_resident_history_card_import_id_card_imports"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_history_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_history")),
    )
    with op.batch_alter_table("resident_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_history_card_import_id"), ["card_import_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resident_history_resident_id"), ["resident_id"], unique=False
        )

    # Search keys: names without spaces, generated by PostgreSQL (prefix search, btree).
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "name_key",
                sa.Text(),
                sa.Computed("translate(name, ' \u3000', '')", persisted=True),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "kana_key",
                sa.Text(),
                sa.Computed("translate(name_kana, ' \u3000', '')", persisted=True),
                nullable=False,
            )
        )
        batch_op.create_index("ix_residents_birth_date", ["birth_date"], unique=False)
        batch_op.create_index(
            "ix_residents_has_gaiji", ["has_gaiji"], unique=False, postgresql_where="has_gaiji"
        )
        batch_op.create_index(
            "ix_residents_kana_key",
            ["kana_key"],
            unique=False,
            postgresql_ops={"kana_key": "text_pattern_ops"},
        )
        batch_op.create_index(
            "ix_residents_name_key",
            ["name_key"],
            unique=False,
            postgresql_ops={"name_key": "text_pattern_ops"},
        )


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index("ix_residents_name_key")
        batch_op.drop_index("ix_residents_kana_key")
        batch_op.drop_index("ix_residents_has_gaiji")
        batch_op.drop_index("ix_residents_birth_date")
        batch_op.drop_column("kana_key")
        batch_op.drop_column("name_key")

    with op.batch_alter_table("resident_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_history_resident_id"))
        batch_op.drop_index(batch_op.f("ix_resident_history_card_import_id"))
    op.drop_table("resident_history")

    with op.batch_alter_table("gaiji_substitutions", schema=None) as batch_op:
        batch_op.drop_index("uq_gaiji_substitutions_character")
    op.drop_table("gaiji_substitutions")

    with op.batch_alter_table("card_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_imports_sha256"))
    op.drop_table("card_imports")
