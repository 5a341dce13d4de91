"""Tables of the card list import: each import, residents' earlier values, 外字 substitutions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from api.issuance.models import IssuanceBase


class CardImport(IssuanceBase):
    """One card list seen by the zone: previewed, applied or refused, and by whom.

    ``sha256`` recognises the same file again; ``status`` is ``previewed`` (a dry run
    that can still be applied), ``refused`` (bad rows) or ``applied``.
    """

    __tablename__ = "card_imports"
    __table_args__ = (
        CheckConstraint("status IN ('previewed', 'refused', 'applied')", name="status_known"),
    )

    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    encoding: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(default=0)
    new: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    gaiji: Mapped[int] = mapped_column(default=0)
    problem_count: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    # Staff login ID; None for imports run from the command line or the demo seed.
    created_by: Mapped[str | None] = mapped_column(String(100), default=None)
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    applied_by: Mapped[str | None] = mapped_column(String(100), default=None)


class ResidentHistory(IssuanceBase):
    """A resident's card-list values before an import changed them (set-based, per import)."""

    __tablename__ = "resident_history"

    resident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    card_import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("card_imports.id", ondelete="RESTRICT"), index=True
    )
    file_sha256: Mapped[str] = mapped_column(String(64))
    changed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    # The names of the card-list fields that changed, and every card-list field's old value.
    changed_fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    previous: Mapped[dict[str, Any]] = mapped_column(JSONB)


class GaijiSubstitution(IssuanceBase):
    """How staff spell one 外字 (a private-use character) in names shown and printed."""

    __tablename__ = "gaiji_substitutions"
    __table_args__ = (
        Index("uq_gaiji_substitutions_character", "character", unique=True),
        CheckConstraint("char_length(character) = 1", name="one_character"),
    )

    character: Mapped[str] = mapped_column(String(1))
    replacement: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str | None] = mapped_column(String(100), default=None)
