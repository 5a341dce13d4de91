"""Console pages for progress: the card lists by phase, location and day, and staff actions.

The list takes the API's own filter (``provide_card_filter``: the same parameters, the same
refusal of a backwards day range) and its CSV is the API's ``/api/progress/cards.csv``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, Parameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.identity.permissions import Permission
from api.issuance.progress.controllers import actor_of, city_tz, need, provide_card_filter
from api.issuance.progress.notices import locations
from api.issuance.progress.queries import CardFilter, list_cards
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.schemas import ProgressChange
from api.issuance.progress.services import ProgressRefused, apply_changes
from web.console.common import STAFF_ACTIONS, console_page, refusal_texts
from web.i18n import N_, Text

PAGE_SIZE: Final = 100
REASON_LENGTH: Final = 500


class ConsoleProgressController(Controller):
    """``/console/cards`` and the staff action form of the resident page."""

    path = "/console"
    include_in_schema = False

    @get(
        "/cards",
        opt=need(Permission.RESIDENTS_READ),
        dependencies={"where": Provide(provide_card_filter, sync_to_thread=False)},
    )
    async def cards(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        state: State,
        where: NamedDependency[CardFilter],
        offset: Annotated[int, Parameter(ge=0)] = 0,
    ) -> Template:
        """Cards by phase, location and the day they reached it, a page at a time, with CSV."""
        found = await list_cards(
            db_session, where, tz=city_tz(state), limit=PAGE_SIZE, offset=offset
        )
        query = {key: value for key, value in request.query_params.items() if key != "offset"}
        return console_page(
            "console/cards.html",
            where=where,
            found=found,
            phases=list(Phase),
            places=await locations(db_session),
            query=urlencode(query),
            page_size=PAGE_SIZE,
        )

    @post("/residents/{reservation_id:str}/changes", opt=need(Permission.PROGRESS_UPDATE))
    async def change(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reservation_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        """Record one staff action (with reason and 実施日); an illegal one says why."""
        back = f"/console/residents/{reservation_id}"
        action = data.get("action", "")
        reason = data.get("reason", "").strip()
        try:
            occurred_on = (
                dt.date.fromisoformat(data["occurred_on"]) if data.get("occurred_on") else None
            )
        except ValueError:
            occurred_on = None
            action = ""  # refused below with the form's own message
        if action not in STAFF_ACTIONS or len(reason) > REASON_LENGTH:
            refusal = Text(
                N_(
                    "Choose what to record; give the day done as 2026-12-07 and a reason of "
                    "up to 500 characters."
                )
            )
            return console_page(
                "console/problem.html", HTTP_422_UNPROCESSABLE_ENTITY, refusal=refusal, back=back
            )
        change = ProgressChange(
            reservation_id=reservation_id,
            action=Action(action),
            reason=reason or None,
            occurred_on=occurred_on,
        )
        try:
            await apply_changes(db_session, [change], actor=actor_of(request), source="staff")
        except ProgressRefused as refused:
            return console_page(
                "console/problem.html",
                HTTP_409_CONFLICT,
                refusals=refusal_texts(refused),
                back=back,
            )
        return Redirect(f"{back}?recorded=1")
