"""The access log table, declared once and bound into each zone's own database.

Append-only and hash-chained: each entry stores the hash of the one before it, so a
changed, removed or reordered entry breaks the chain. The migration
``access_log_chain_and_append_only_trigger`` installs the triggers that compute
``previous_hash`` and ``entry_hash`` on INSERT (whatever the caller passes) and refuse
UPDATE and DELETE; see api/core/audit/README.md.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Identity, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class AccessLogMixin:
    """One access-log entry: a staff request or a login attempt."""

    # The chain's order: an identity column, never a timestamp.
    sequence: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    zone: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    terminal: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(Text)
    resource_ids: Mapped[list[str]] = mapped_column(JSONB)
    outcome: Mapped[str] = mapped_column(String(32))
    status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, str]] = mapped_column(JSONB)
    # Unique: two entries linking to the same predecessor would be a fork of the chain.
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
