"""Progress, resident page, letters and visitor list routes (issuance zone, staff only).

Each route names the permission it needs in ``opt``; the app-wide guard enforces it and
the access log records every call.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.guards import PERMISSION, principal_of
from api.core.identity.permissions import Permission
from api.core.settings import ZoneSettings
from api.core.uploads import uploaded_file
from api.issuance.progress.csv_output import csv_response
from api.issuance.progress.notices import (
    CSV_HEADER as LETTER_CSV_HEADER,
)
from api.issuance.progress.notices import (
    LetterPage,
    NoticesPrintedInput,
    letter_csv_rows,
    notice_letters,
    record_notices_printed,
)
from api.issuance.progress.queries import (
    CSV_HEADER as CARD_CSV_HEADER,
)
from api.issuance.progress.queries import CardFilter, card_csv_rows, list_cards, phase_counts
from api.issuance.progress.resident_page import (
    MemoInput,
    MemoView,
    ResidentPage,
    add_memo,
    resident_page,
)
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.schemas import (
    BulkChangeInput,
    CardPage,
    Mismatch,
    PhaseCounts,
    ProgressChange,
    ProgressReport,
    StaffChangeInput,
)
from api.issuance.progress.services import apply_changes, import_results, verify_progress
from api.issuance.progress.visitors import (
    CSV_HEADER as VISITOR_CSV_HEADER,
)
from api.issuance.progress.visitors import (
    AttendanceInput,
    AttendanceResult,
    VisitorList,
    mark_attendance,
    visitor_csv_rows,
    visitor_list,
)

# 交付前設定結果 / 交付済結果 take 40-100 bytes a row: a city's several hundred thousand
# cards fit several times over, where Litestar's default of 10 MB stops at 100,000-250,000
# rows. The body is read into memory, which this bound also keeps in check.
MAX_RESULT_FILE_BYTES: Final = 128 << 20
Limit = Annotated[int, Parameter(ge=1, le=1000, description="Page size")]
Offset = Annotated[int, Parameter(ge=0, description="Rows to skip")]
LocationQuery = Annotated[str, Parameter(pattern=r"^[0-9A-Za-z_-]{1,32}$")]
ReservationIdPath = Annotated[str, Parameter(pattern=r"^[0-9A-Z]{3}-?[0-9]{6}$")]


def need(permission: Permission) -> dict[str, Any]:
    """The ``opt`` of a route open to holders of ``permission`` (the app-wide guard reads it)."""
    return {PERMISSION: permission.value}


def actor_of(request: Request[Any, Any, Any]) -> str:
    """The login ID of whoever acts (``anonymous`` until authentication is wired)."""
    principal = principal_of(request)
    return principal.name if principal is not None else "anonymous"


def city_tz(state: State) -> ZoneInfo:
    """The city's time zone (the zone's settings)."""
    settings: ZoneSettings = state["settings"]
    return settings.tz


def provide_card_filter(
    *,
    phase: FromQuery[Phase | None] = None,
    location_code: FromQuery[LocationQuery | None] = None,
    changed_from: Annotated[
        dt.datetime | None, Parameter(description="Recorded at or after this instant")
    ] = None,
    changed_before: Annotated[
        dt.datetime | None, Parameter(description="Recorded before this instant")
    ] = None,
    reached_from: Annotated[
        dt.date | None,
        Parameter(description="Phase reached on or after this day (実施日, else day recorded)"),
    ] = None,
    reached_until: Annotated[
        dt.date | None,
        Parameter(description="Phase reached on or before this day (実施日, else day recorded)"),
    ] = None,
) -> CardFilter:
    """The card list's filter from the query string (a day range must not run backwards)."""
    if reached_from is not None and reached_until is not None and reached_until < reached_from:
        raise ValidationException(
            "reached_until is before reached_from",
            extra=[{"key": "reached_until", "message": "must not be before reached_from"}],
        )
    return CardFilter(
        phase=phase,
        location_code=location_code,
        changed_from=changed_from,
        changed_before=changed_before,
        reached_from=reached_from,
        reached_until=reached_until,
    )


class ProgressController(Controller):
    """Card progress: lists, counts, CSV, staff actions, result files, the derivation check."""

    path = "/api/progress"
    tags = ["progress"]
    dependencies = {"where": Provide(provide_card_filter, sync_to_thread=False)}

    @get("/cards", opt=need(Permission.RESIDENTS_READ))
    async def cards(
        self,
        *,
        db_session: NamedDependency[AsyncSession],
        state: State,
        where: NamedDependency[CardFilter],
        limit: FromQuery[Limit] = 100,
        offset: FromQuery[Offset] = 0,
    ) -> CardPage:
        """Cards by phase, location and when they reached their phase (paginated)."""
        return await list_cards(db_session, where, tz=city_tz(state), limit=limit, offset=offset)

    @get("/cards.csv", opt=need(Permission.RESIDENTS_READ))
    async def cards_csv(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        where: NamedDependency[CardFilter],
    ) -> Response[bytes]:
        """The same list as a CSV file (UTF-8 with BOM, formula-safe)."""
        rows = await card_csv_rows(db_session, where, tz=city_tz(state))
        name = f"progress-{where.phase.value if where.phase else 'all'}.csv"
        return csv_response(name, CARD_CSV_HEADER, rows)

    @get("/counts", opt=need(Permission.RESIDENTS_READ))
    async def counts(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        where: NamedDependency[CardFilter],
    ) -> PhaseCounts:
        """How many cards are in each phase (the dashboard), with the card list's filters."""
        return await phase_counts(db_session, where, tz=city_tz(state))

    @post("/cards/{reservation_id:str}/changes", opt=need(Permission.PROGRESS_UPDATE))
    async def change_one(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reservation_id: FromPath[ReservationIdPath],
        data: JSONBody[StaffChangeInput],
    ) -> ProgressReport:
        """Record a staff action on one card; an illegal one is refused with the reason."""
        change = ProgressChange(
            reservation_id=reservation_id,
            action=Action(data.action),
            reason=data.reason,
            occurred_on=data.occurred_on,
            location_code=data.location_code,
        )
        return await apply_changes(db_session, [change], actor=actor_of(request), source="staff")

    @post("/changes", opt=need(Permission.PROGRESS_UPDATE))
    async def change_many(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[BulkChangeInput],
    ) -> ProgressReport:
        """Record one staff action on many cards: all of them, or none with every refusal."""
        changes = [
            ProgressChange(
                reservation_id=reservation_id,
                action=Action(data.action),
                reason=data.reason,
                occurred_on=data.occurred_on,
                location_code=data.location_code,
            )
            for reservation_id in data.reservation_ids
        ]
        return await apply_changes(db_session, changes, actor=actor_of(request), source="staff")

    @post(
        "/results/{kind:str}",
        opt=need(Permission.PROGRESS_UPDATE),
        request_max_body_size=MAX_RESULT_FILE_BYTES,
    )
    async def import_result_file(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        kind: FromPath[Literal["presetup", "issued"]],
        dry_run: FromQuery[bool] = False,
    ) -> ProgressReport:
        """Import a 交付前設定結果 or 交付済結果 file (the request body), all or nothing."""
        data = await uploaded_file(request)
        return await import_results(
            db_session, data, kind, actor=actor_of(request), dry_run=dry_run
        )

    @get("/verify", opt=need(Permission.PROGRESS_UPDATE))
    async def verify(self, db_session: NamedDependency[AsyncSession]) -> list[Mismatch]:
        """Cards whose stored phase differs from the one their events derive (none: healthy)."""
        return await verify_progress(db_session)


class ResidentPageController(Controller):
    """One resident's page and the memos on it."""

    path = "/api/resident-pages"
    tags = ["residents"]

    @get("/{reservation_id:str}", opt=need(Permission.RESIDENTS_READ))
    async def page(
        self,
        db_session: NamedDependency[AsyncSession],
        reservation_id: FromPath[ReservationIdPath],
    ) -> ResidentPage:
        """Card, certificate info, progress timeline, bookings and memos of one resident."""
        return await resident_page(db_session, reservation_id)

    @post("/{reservation_id:str}/memos", opt=need(Permission.PROGRESS_UPDATE))
    async def memo(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reservation_id: FromPath[ReservationIdPath],
        data: JSONBody[MemoInput],
    ) -> MemoView:
        """Add a memo (author and time are recorded)."""
        return await add_memo(db_session, reservation_id, data.body, author=actor_of(request))


class NoticeController(Controller):
    """交付案内 letters: the data they print, and recording that they were printed."""

    path = "/api/notices"
    tags = ["notices"]

    @get("/letters", opt=need(Permission.NOTICES_PRINT))
    async def letters(
        self,
        db_session: NamedDependency[AsyncSession],
        phase: FromQuery[Literal["presetup_done", "notice_sent"]] = "presetup_done",
        limit: FromQuery[Limit] = 100,
        offset: FromQuery[Offset] = 0,
    ) -> LetterPage:
        """Letters to print (``presetup_done``) or to reprint (``notice_sent``)."""
        return await notice_letters(db_session, phase=Phase(phase), limit=limit, offset=offset)

    @get("/letters.csv", opt=need(Permission.NOTICES_PRINT))
    async def letters_csv(
        self,
        db_session: NamedDependency[AsyncSession],
        phase: FromQuery[Literal["presetup_done", "notice_sent"]] = "presetup_done",
    ) -> Response[bytes]:
        """The letters as a CSV for a mail merge (UTF-8 with BOM, formula-safe)."""
        rows = await letter_csv_rows(db_session, Phase(phase))
        return csv_response(f"letters-{phase}.csv", LETTER_CSV_HEADER, rows)

    @post("/printed", opt=need(Permission.NOTICES_PRINT))
    async def printed(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[NoticesPrintedInput],
    ) -> ProgressReport:
        """Record that these letters were printed: the cards move to ``notice_sent``."""
        return await record_notices_printed(
            db_session, data.reservation_ids, actor=actor_of(request)
        )


class VisitorController(Controller):
    """予約者リスト: who comes to a location on a day; attendance marks."""

    path = "/api/visitors"
    tags = ["visitors"]

    @get("/", opt=need(Permission.RESERVATIONS_READ))
    async def visitors(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        location_code: FromQuery[LocationQuery],
        day: FromQuery[dt.date],
    ) -> VisitorList:
        """Visitors of one location and day by time, households together, with readiness."""
        return await visitor_list(db_session, location_code, day, city_tz(state))

    @get("/list.csv", opt=need(Permission.RESERVATIONS_READ))
    async def visitors_csv(
        self,
        db_session: NamedDependency[AsyncSession],
        state: State,
        location_code: FromQuery[LocationQuery],
        day: FromQuery[dt.date],
    ) -> Response[bytes]:
        """The printable visitor list (UTF-8 with BOM, formula-safe)."""
        visitors = await visitor_list(db_session, location_code, day, city_tz(state))
        name = f"visitors-{location_code}-{day.isoformat()}.csv"
        return csv_response(name, VISITOR_CSV_HEADER, visitor_csv_rows(visitors))

    @post("/attendance", opt=need(Permission.PROGRESS_UPDATE))
    async def attendance(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[AttendanceInput],
    ) -> AttendanceResult:
        """Mark a visitor arrived, no-show or issued (issued also records progress)."""
        return await mark_attendance(db_session, data, actor=actor_of(request))


def progress_route_handlers() -> list[type[Controller]]:
    """The controllers the issuance app registers for progress, residents, letters, visitors."""
    return [ProgressController, ResidentPageController, NoticeController, VisitorController]
