"""Progress tables: append-only events, the derived current phase, staff memos.

The phase of a card is derived from its events (``api.issuance.progress.rules``); the
``card_progress`` row is that derivation kept up to date in the same transaction as each
event, so lists and counts need no replay. ``verify_progress`` proves the two agree.
"""

from __future__ import annotations

import datetime as dt

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.issuance.models import IssuanceBase
from api.issuance.progress.rules import Action, Phase


def _one_of(column: str, values: type[Action] | type[Phase]) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class ProgressEvent(IssuanceBase):
    """One change of a card's progress: what happened, who did it, when and why."""

    __tablename__ = "progress_events"
    __table_args__ = (
        CheckConstraint(_one_of("action", Action), name="action_known"),
        CheckConstraint(_one_of("phase_before", Phase), name="phase_before_known"),
        CheckConstraint(_one_of("phase_after", Phase), name="phase_after_known"),
        CheckConstraint("source IN ('staff', 'file', 'sync')", name="source_known"),
        Index("ix_progress_events_resident_id_id", "resident_id", "id"),
    )

    resident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("residents.id", ondelete="RESTRICT")
    )
    action: Mapped[str] = mapped_column(String(32))
    phase_before: Mapped[str] = mapped_column(String(16))
    phase_after: Mapped[str] = mapped_column(String(16))
    # The login ID of the member of staff, or the command that imported a file.
    actor: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # 実施日 of a result file, when the event reports something done on another day.
    occurred_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    location_code: Mapped[str | None] = mapped_column(String(32), default=None)


class CardProgress(IssuanceBase):
    """The current phase of one card: derived state, recomputable from its events.

    A resident without a row is ``imported`` (no event yet).
    """

    __tablename__ = "card_progress"
    __table_args__ = (CheckConstraint(_one_of("phase", Phase), name="phase_known"),)

    resident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("residents.id", ondelete="CASCADE"), unique=True
    )
    phase: Mapped[str] = mapped_column(String(16), index=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    location_code: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    # 実施日 of the event that set the phase, when it gave one (a result file's date, a
    # staff action dated back): a 交付済結果 file imported a week late still counts in the
    # week the cards were handed over. Without it, the day is that of changed_at.
    occurred_on: Mapped[dt.date | None] = mapped_column(Date, default=None, index=True)
    last_event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("progress_events.id", ondelete="RESTRICT")
    )


class ResidentMemo(IssuanceBase):
    """A free-text note by a member of staff about one resident (append-only)."""

    __tablename__ = "resident_memos"

    resident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
