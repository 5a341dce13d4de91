"""progress exchange and visitors

Revision ID: 3d975bf601c5
Revises: bbe5e6e8a0c3
Create Date: 2026-11-26 04:18:51.333791
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

sa.DateTimeUTC = DateTimeUTC  # type: ignore[attr-defined]
sa.GUID = GUID  # type: ignore[attr-defined]

revision = "3d975bf601c5"
down_revision = "bbe5e6e8a0c3"
branch_labels = None
depends_on = None

_PHASES = "('imported', 'presetup_done', 'notice_sent', 'reserved', 'issued', 'returned', 'cancelled', 'expired')"
_ACTIONS = "('presetup_done', 'presetup_failed', 'notice_printed', 'reserved', 'reservation_cancelled', 'issued', 'returned', 'cancelled', 'expired')"

# Progress events are the record the current phase is derived from: never changed afterwards.
_APPEND_ONLY = (
    """
CREATE FUNCTION progress_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'progress_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    """
CREATE TRIGGER progress_events_append_only BEFORE UPDATE OR DELETE ON progress_events
FOR EACH ROW EXECUTE FUNCTION progress_events_refuse_change()
""",
)


def _id() -> sa.Column:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(always=False, start=1, increment=1),
        nullable=False,
    )


def _audit() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sync_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_counters")),
    )
    op.create_table(
        "counter_locations",
        _id(),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        *_audit(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_counter_locations_code")),
    )
    op.create_table(
        "eligibility_exports",
        _id(),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("bundle_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("base_sequence", sa.BigInteger(), nullable=True),
        sa.Column("upserts", sa.Integer(), nullable=False),
        sa.Column("revocations", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("receipt_applied_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("receipt", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        *_audit(),
        sa.CheckConstraint(
            "mode IN ('full', 'delta')", name=op.f("ck_eligibility_exports_mode_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_exports")),
        sa.UniqueConstraint("bundle_id", name=op.f("uq_eligibility_exports_bundle_id")),
        sa.UniqueConstraint("sequence", name=op.f("uq_eligibility_exports_sequence")),
    )
    op.create_table(
        "reservation_imports",
        _id(),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("bundle_id", sa.Uuid(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("failures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        *_audit(),
        sa.CheckConstraint(
            "source IN ('bundle', 'csv')", name=op.f("ck_reservation_imports_source_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_imports")),
        sa.UniqueConstraint("digest", name=op.f("uq_reservation_imports_digest")),
    )
    op.create_index(
        op.f("ix_reservation_imports_sequence"), "reservation_imports", ["sequence"], unique=False
    )
    op.create_table(
        "eligibility_sent",
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("password", sa.String(length=4), nullable=False),
        sa.Column("shipment_no", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_eligibility_sent_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_eligibility_sent")),
    )
    op.create_table(
        "progress_events",
        _id(),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("phase_before", sa.String(length=16), nullable=False),
        sa.Column("phase_after", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("location_code", sa.String(length=32), nullable=True),
        *_audit(),
        sa.CheckConstraint(f"action IN {_ACTIONS}", name=op.f("ck_progress_events_action_known")),
        sa.CheckConstraint(
            f"phase_after IN {_PHASES}", name=op.f("ck_progress_events_phase_after_known")
        ),
        sa.CheckConstraint(
            f"phase_before IN {_PHASES}", name=op.f("ck_progress_events_phase_before_known")
        ),
        sa.CheckConstraint(
            "source IN ('staff', 'file', 'sync')", name=op.f("ck_progress_events_source_known")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_progress_events_resident_id_residents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_events")),
    )
    op.create_index(
        "ix_progress_events_resident_id_id", "progress_events", ["resident_id", "id"], unique=False
    )
    for statement in _APPEND_ONLY:
        op.execute(statement)
    op.create_table(
        "card_progress",
        _id(),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        *_audit(),
        sa.CheckConstraint(f"phase IN {_PHASES}", name=op.f("ck_card_progress_phase_known")),
        sa.ForeignKeyConstraint(
            ["last_event_id"],
            ["progress_events.id"],
            name=op.f("fk_card_progress_last_event_id_progress_events"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_card_progress_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_progress")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_card_progress_resident_id")),
    )
    op.create_index(
        op.f("ix_card_progress_changed_at"), "card_progress", ["changed_at"], unique=False
    )
    op.create_index(
        op.f("ix_card_progress_location_code"), "card_progress", ["location_code"], unique=False
    )
    op.create_index(op.f("ix_card_progress_phase"), "card_progress", ["phase"], unique=False)
    op.create_table(
        "resident_memos",
        _id(),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        *_audit(),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_memos_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_memos")),
    )
    op.create_index(
        op.f("ix_resident_memos_resident_id"), "resident_memos", ["resident_id"], unique=False
    )
    op.create_table(
        "resident_bookings",
        _id(),
        sa.Column("resident_id", sa.BigInteger(), nullable=False),
        sa.Column("confirmation_code", sa.String(length=16), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("location_name", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("companion_ids", postgresql.ARRAY(sa.String(length=10)), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("source_updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("attendance", sa.String(length=16), nullable=True),
        sa.Column("attendance_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("attendance_by", sa.Text(), nullable=True),
        *_audit(),
        sa.CheckConstraint(
            "attendance IN ('arrived', 'no_show', 'issued')",
            name=op.f("ck_resident_bookings_attendance_known"),
        ),
        sa.CheckConstraint(
            "channel IN ('web', 'phone')", name=op.f("ck_resident_bookings_channel_known")
        ),
        sa.CheckConstraint(
            "status IN ('booked', 'changed', 'cancelled')",
            name=op.f("ck_resident_bookings_status_known"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_resident_bookings_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_bookings_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_bookings")),
        sa.UniqueConstraint(
            "confirmation_code", "resident_id", name=op.f("uq_resident_bookings_confirmation_code")
        ),
    )
    op.create_index(
        op.f("ix_resident_bookings_resident_id"), "resident_bookings", ["resident_id"], unique=False
    )
    op.create_index(
        op.f("ix_resident_bookings_starts_at"), "resident_bookings", ["starts_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("resident_bookings")
    op.drop_table("resident_memos")
    op.drop_table("card_progress")
    op.execute("DROP TRIGGER IF EXISTS progress_events_append_only ON progress_events")
    op.execute("DROP FUNCTION IF EXISTS progress_events_refuse_change()")
    op.drop_table("progress_events")
    op.drop_table("eligibility_sent")
    op.drop_table("reservation_imports")
    op.drop_table("eligibility_exports")
    op.drop_table("counter_locations")
    op.drop_table("sync_counters")
