"""places rules and exchange

Revision ID: 3bc9115b71d7
Revises: 4e5a2ce5cbab
Create Date: 2026-11-26 04:18:48.707878
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "3bc9115b71d7"
down_revision = "4e5a2ce5cbab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_bundles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("bundle_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("base_sequence", sa.BigInteger(), nullable=True),
        sa.Column("record_total", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changes_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('in', 'out')", name=op.f("ck_sync_bundles_direction_known")
        ),
        sa.CheckConstraint("mode IN ('full', 'delta')", name=op.f("ck_sync_bundles_mode_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_bundles")),
        sa.UniqueConstraint("bundle_id", name=op.f("uq_sync_bundles_bundle_id")),
        sa.UniqueConstraint(
            "direction", "kind", "sequence", name="uq_sync_bundles_direction_kind_sequence"
        ),
    )
    op.create_table(
        "sync_streams",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("bundle_id", sa.Uuid(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_streams")),
        sa.UniqueConstraint("name", name=op.f("uq_sync_streams_name")),
    )
    op.create_table(
        "closed_days",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('city', 'maintenance')", name=op.f("ck_closed_days_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_closed_days_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closed_days")),
        sa.UniqueConstraint("location_id", "day", name="uq_closed_days_location_day"),
    )
    op.create_table(
        "location_rules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("people_per_window", sa.Integer(), nullable=False),
        sa.Column("online_percent", sa.SmallInteger(), nullable=False),
        sa.Column("default_windows", sa.Integer(), nullable=False),
        sa.Column("opens_days_ahead", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_hours_before", sa.Integer(), nullable=False),
        sa.Column("change_hours_before", sa.Integer(), nullable=False),
        sa.Column("household_max", sa.Integer(), nullable=False),
        sa.Column("closed_on_public_holidays", sa.Boolean(), nullable=False),
        sa.Column("maintenance_sunday", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "change_hours_before >= 0", name=op.f("ck_location_rules_change_hours_before_positive")
        ),
        sa.CheckConstraint(
            "closes_hours_before >= 0", name=op.f("ck_location_rules_closes_hours_before_positive")
        ),
        sa.CheckConstraint(
            "default_windows >= 0", name=op.f("ck_location_rules_default_windows_positive")
        ),
        sa.CheckConstraint(
            "household_max BETWEEN 1 AND 20", name=op.f("ck_location_rules_household_max_range")
        ),
        sa.CheckConstraint(
            "maintenance_sunday IS NULL OR maintenance_sunday BETWEEN 1 AND 5",
            name=op.f("ck_location_rules_maintenance_sunday_range"),
        ),
        sa.CheckConstraint(
            "online_percent BETWEEN 0 AND 100", name=op.f("ck_location_rules_online_percent_range")
        ),
        sa.CheckConstraint(
            "opens_days_ahead BETWEEN 1 AND 366",
            name=op.f("ck_location_rules_opens_days_ahead_range"),
        ),
        sa.CheckConstraint(
            "people_per_window >= 0", name=op.f("ck_location_rules_people_per_window_positive")
        ),
        sa.CheckConstraint(
            "slot_minutes BETWEEN 5 AND 240", name=op.f("ck_location_rules_slot_minutes_range")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_location_rules_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_rules")),
        sa.UniqueConstraint("location_id", name=op.f("uq_location_rules_location_id")),
    )
    op.create_table(
        "opening_hours",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "closes_at > opens_at", name=op.f("ck_opening_hours_opening_has_length")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_opening_hours_weekday_range")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_opening_hours_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_hours")),
        sa.UniqueConstraint("location_id", "weekday", name="uq_opening_hours_location_weekday"),
    )
    op.create_table(
        "special_openings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "closes_at > opens_at", name=op.f("ck_special_openings_special_opening_has_length")
        ),
        sa.CheckConstraint(
            "windows IS NULL OR windows >= 0",
            name=op.f("ck_special_openings_special_windows_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_special_openings_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_special_openings")),
        sa.UniqueConstraint("location_id", "day", name="uq_special_openings_location_day"),
    )
    op.create_table(
        "time_bands",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_time_bands_band_has_length")),
        sa.CheckConstraint("windows >= 0", name=op.f("ck_time_bands_windows_positive")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_time_bands_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_bands")),
        sa.UniqueConstraint("location_id", "starts_at", name="uq_time_bands_location_start"),
    )


def downgrade() -> None:
    op.drop_table("time_bands")
    op.drop_table("special_openings")
    op.drop_table("opening_hours")
    op.drop_table("location_rules")
    op.drop_table("closed_days")
    op.drop_table("sync_streams")
    op.drop_table("sync_bundles")
