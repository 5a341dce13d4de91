"""Console pages for the counter's work: the dashboard, resident search and page, visitors.

Each page declares the permission its API twin declares, and calls the same service.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.identity.permissions import Permission
from api.issuance.progress.controllers import actor_of, city_tz, need
from api.issuance.progress.notices import locations
from api.issuance.progress.queries import CardFilter, phase_counts
from api.issuance.progress.resident_page import add_memo, resident_page
from api.issuance.progress.rules import Phase
from api.issuance.progress.services import ProgressRefused
from api.issuance.progress.visitors import (
    AttendanceInput,
    BookingNotFound,
    mark_attendance,
    visitor_list,
)
from api.issuance.residents.services import (
    GaijiSubstitutionService,
    ResidentSearch,
    ResidentService,
    resident_schema,
)
from web.console.common import console_page, refusal_texts
from web.i18n import N_, Text
from web.resident.forms import FieldError

PAGE_SIZE: Final = 50
MEMO_LENGTH: Final = 2000


def _day(raw: str | None, tz: ZoneInfo) -> dt.date | None:
    """The day a form asked for (today when empty), or None when it is no date."""
    if not raw:
        return dt.datetime.now(tz).date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


class ConsoleController(Controller):
    """The console's work pages under ``/console``."""

    path = "/console"
    include_in_schema = False

    @get("/", opt=need(Permission.RESIDENTS_READ))
    async def dashboard(self, db_session: NamedDependency[AsyncSession], state: State) -> Template:
        """How many cards are in each phase, and today's visitor lists per location."""
        tz = city_tz(state)
        counts = await phase_counts(db_session, CardFilter(), tz=tz)
        return console_page(
            "console/dashboard.html",
            counts=counts,
            phases=list(Phase),
            locations=await locations(db_session),
            today=dt.datetime.now(tz).date(),
        )

    @get("/residents", opt=need(Permission.RESIDENTS_READ))
    async def residents(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        """Search by name or kana, reservation ID or birth date (every given one must match)."""
        query = {
            field: request.query_params.get(field, "").strip()
            for field in ("name", "reservation_id", "birth_date")
        }
        searched = any(query.values())
        found: list[Any] = []
        total = 0
        errors: list[FieldError] = []
        if searched:
            search = ResidentSearch(
                name=query["name"] or None,
                reservation_id=query["reservation_id"] or None,
                birth_date=query["birth_date"] or None,
            )
            try:
                rows, total = await ResidentService(session=db_session).search(
                    search, limit=PAGE_SIZE, offset=0
                )
            except (DomainError, ValueError):
                errors.append(
                    FieldError("birth_date", Text(N_("Enter the birth date as 1985-02-14.")))
                )
            else:
                table = await GaijiSubstitutionService(session=db_session).table()
                found = [resident_schema(row, table) for row in rows]
        return console_page(
            "console/residents.html",
            errors=errors,
            values=query,
            searched=searched,
            found=found,
            total=total,
            page_size=PAGE_SIZE,
        )

    @get("/residents/{reservation_id:str}", opt=need(Permission.RESIDENTS_READ))
    async def resident(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reservation_id: FromPath[str],
    ) -> Template:
        """One resident: card, certificates, progress timeline, bookings and memos."""
        try:
            shown = await resident_page(db_session, reservation_id)
        except DomainError:
            return console_page("console/problem.html", HTTP_404_NOT_FOUND, missing=reservation_id)
        return console_page(
            "console/resident.html",
            resident=shown,
            noted=bool(request.query_params.get("noted")),
        )

    @post("/residents/{reservation_id:str}/memos", opt=need(Permission.PROGRESS_UPDATE))
    async def memo(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reservation_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        """Add a memo (author and time recorded), then show the page again."""
        body = data.get("body", "").strip()
        if not body or len(body) > MEMO_LENGTH:
            shown = await resident_page(db_session, reservation_id)
            error = FieldError("body", Text(N_("Write a memo of up to 2,000 characters.")))
            return console_page("console/resident.html", 422, errors=[error], resident=shown)
        await add_memo(db_session, reservation_id, body, author=actor_of(request))
        return Redirect(f"/console/residents/{reservation_id}?noted=1#memos")

    @get("/visitors", opt=need(Permission.RESERVATIONS_READ))
    async def visitors(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
    ) -> Template:
        """予約者リスト of one location and day, households together, with marks to set."""
        tz = city_tz(state)
        places = await locations(db_session)
        code = request.query_params.get("location_code") or (places[0].code if places else "")
        day = _day(request.query_params.get("day"), tz)
        errors: list[FieldError] = []
        if day is None:
            errors.append(FieldError("day", Text(N_("Enter the day as 2026-12-07."))))
            day = dt.datetime.now(tz).date()
        shown = await visitor_list(db_session, code, day, tz) if code else None
        return console_page(
            "console/visitors.html",
            errors=errors,
            places=places,
            location_code=code,
            day=day,
            visitors=shown,
            marked=request.query_params.get("marked"),
        )

    @post("/visitors/attendance", opt=need(Permission.PROGRESS_UPDATE))
    async def attendance(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        """Mark one visitor arrived, no-show or issued; a refusal is shown with its reason."""
        back = "/console/visitors?" + urlencode(
            {"location_code": data.get("location_code", ""), "day": data.get("day", "")}
        )
        try:
            mark = msgspec.convert(
                {key: data.get(key, "") for key in ("confirmation_code", "reservation_id", "mark")},
                AttendanceInput,
            )
        except msgspec.ValidationError as error:
            return console_page("console/problem.html", 422, refusal=str(error), back=back)
        try:
            result = await mark_attendance(db_session, mark, actor=actor_of(request))
        except BookingNotFound as missing:
            return console_page(
                "console/problem.html", HTTP_404_NOT_FOUND, refusal=missing.message, back=back
            )
        except ProgressRefused as refused:
            # The card's own reason (not ready: no 交付前設定 yet, already issued, ...).
            return console_page(
                "console/problem.html",
                HTTP_409_CONFLICT,
                refusals=refusal_texts(refused),
                back=back,
            )
        return Redirect(f"{back}&marked={result.reservation_id}#visitors")
