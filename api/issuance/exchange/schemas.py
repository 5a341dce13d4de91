"""Exchange reports: what an export, a receipt or a reservation import did."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

from sync_format.csv import Problem


class ExportReport(msgspec.Struct, frozen=True, kw_only=True):
    """One eligibility bundle written: its identity and counts."""

    sequence: int
    bundle_id: uuid.UUID
    mode: Literal["full", "delta"]
    base_sequence: int | None
    upserts: int
    revocations: int
    digest: str
    file: str


class ExportView(msgspec.Struct, frozen=True, kw_only=True):
    """An export as the history shows it, with its receipt once imported."""

    sequence: int
    bundle_id: uuid.UUID
    mode: str
    base_sequence: int | None
    upserts: int
    revocations: int
    digest: str
    file_name: str
    actor: str
    created_at: dt.datetime
    receipt_applied_at: dt.datetime | None
    receipt: dict[str, object] | None


class ExportPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of export history, newest first."""

    items: list[ExportView]
    total: int
    limit: int
    offset: int


class ReceiptResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a receipt said about one of our bundles, and what importing it did."""

    sequence: int
    bundle_id: uuid.UUID
    outcome: Literal["applied", "already_applied", "unknown_bundle"]
    imported: int
    updated: int
    ignored: int
    failed: int
    failures: list[tuple[str, str]]


class ReceiptReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one receipt bundle said."""

    results: list[ReceiptResult]


class ImportFailure(msgspec.Struct, frozen=True, kw_only=True):
    """A booking that was not applied, and why (``code`` is stable)."""

    reservation_id: str
    code: str
    reason: str
    confirmation_code: str | None = None
    line: int | None = None


Outcome = Literal["applied", "preview", "already_applied"]


class ReservationImportReport(msgspec.Struct, kw_only=True):
    """What a reservation bundle or 予約一覧CSV did (or, in a preview, would do)."""

    source: Literal["bundle", "csv"]
    outcome: Outcome
    reason: str
    sequence: int | None = None
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    failed: int = 0
    failures: list[ImportFailure] = []
    reserved: int = 0
    unreserved: int = 0
    problems: list[Problem] = []
    receipt_file: str | None = None
