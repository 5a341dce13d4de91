"""Progress API shapes: inputs are strict, outputs are plain msgspec Structs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from api.issuance.progress.rules import Action, Phase
from sync_format.csv import Problem
from sync_format.v1.records import LocationCode

ReservationId = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Z]{3}-?[0-9]{6}$")]
Reason = Annotated[str, msgspec.Meta(max_length=500)]
# Actions staff record by hand; bookings move progress through the reservation import only.
StaffAction = Literal[
    "presetup_done",
    "presetup_failed",
    "notice_printed",
    "issued",
    "returned",
    "cancelled",
    "expired",
]


class ProgressChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One requested change of one card's progress."""

    reservation_id: ReservationId
    action: Action
    reason: Reason | None = None
    occurred_on: dt.date | None = None
    location_code: LocationCode | None = None
    # The line of a result file the change came from, for the report.
    line: int | None = None


class StaffChangeInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A staff action on one card."""

    action: StaffAction
    reason: Reason | None = None
    occurred_on: dt.date | None = None
    location_code: LocationCode | None = None


class BulkChangeInput(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The same staff action on many cards, all or nothing."""

    action: StaffAction
    reservation_ids: Annotated[list[ReservationId], msgspec.Meta(min_length=1, max_length=10_000)]
    reason: Reason | None = None
    occurred_on: dt.date | None = None
    location_code: LocationCode | None = None


class RefusedChange(msgspec.Struct, frozen=True, kw_only=True):
    """A change that cannot be made, and why (``code`` is stable)."""

    reservation_id: str
    action: str
    code: str
    reason: str
    phase: str | None = None
    line: int | None = None


class ProgressReport(msgspec.Struct, kw_only=True):
    """What a batch of changes did (or, refused or dry run, would do)."""

    requested: int
    applied: int
    unchanged: int
    refused: list[RefusedChange]
    problems: list[Problem] = []
    committed: bool = False


class ProgressEventView(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a card's timeline."""

    id: int
    action: str
    phase_before: str
    phase_after: str
    actor: str
    source: str
    reason: str | None
    occurred_on: dt.date | None
    location_code: str | None
    recorded_at: dt.datetime


class CardRow(msgspec.Struct, frozen=True, kw_only=True):
    """One card in a progress list."""

    reservation_id: str
    name: str
    name_kana: str
    phase: Phase
    # 実施日 of the change that set the phase, else the day it was recorded (city time).
    reached_on: dt.date
    changed_at: dt.datetime
    location_code: str | None


class CardPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of a progress list."""

    items: list[CardRow]
    total: int
    limit: int
    offset: int


class PhaseCounts(msgspec.Struct, frozen=True, kw_only=True):
    """How many cards are in each phase (the dashboard)."""

    counts: dict[str, int]
    total: int


class Mismatch(msgspec.Struct, frozen=True, kw_only=True):
    """A card whose stored phase differs from the phase its events derive."""

    resident_id: int
    stored: str
    derived: str
