"""Search and CSV export of the access log, for holders of ``audit.read``.

The permission is data on the routes (``opt``); the app-wide guard enforces it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from api.core.audit.recorder import AccessLogRuntime, runtime_of_state
from api.core.audit.schemas import AccessLogPage, csv_lines, to_schema
from api.core.audit.service import AccessLogFilter, filtered, to_entry

_EXPORT_BATCH = 2000


class AccessLogController(Controller):
    """``/api/audit/access-log``: search (paginated JSON) and export (streamed CSV)."""

    path = "/api/audit/access-log"
    tags = ["audit"]
    opt = {"permission": "audit.read"}
    dependencies = {"access_log_runtime": Provide(runtime_of_state, sync_to_thread=False)}

    @get("/", summary="Search the access log (newest first)")
    async def search(
        self,
        *,
        access_log_runtime: NamedDependency[AccessLogRuntime],
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
        actor: FromQuery[str | None] = None,
        outcome: FromQuery[str | None] = None,
        route: FromQuery[str | None] = None,
        request_id: FromQuery[str | None] = None,
        before: Annotated[int | None, QueryParameter(ge=1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> AccessLogPage:
        """Entries matching every given filter; pass ``next_before`` back as ``before``."""
        criteria = AccessLogFilter(
            since=since,
            until=until,
            actor=actor,
            outcome=outcome,
            route=route,
            request_id=request_id,
        )
        model = access_log_runtime.model
        statement = filtered(model, criteria).order_by(model.sequence.desc()).limit(limit + 1)
        if before is not None:
            statement = statement.where(model.sequence < before)
        table = model.__table__  # type: ignore[attr-defined]
        statement = statement.with_only_columns(table)
        async with access_log_runtime.engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        items = [to_schema(to_entry(row)) for row in rows[:limit]]
        next_before = items[-1].sequence if len(rows) > limit else None
        return AccessLogPage(items=items, next_before=next_before)

    @get("/export.csv", summary="Export the access log as CSV (oldest first)")
    async def export(
        self,
        *,
        access_log_runtime: NamedDependency[AccessLogRuntime],
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
        actor: FromQuery[str | None] = None,
        outcome: FromQuery[str | None] = None,
        route: FromQuery[str | None] = None,
        request_id: FromQuery[str | None] = None,
    ) -> Stream:
        """Stream every matching entry as CSV, in sequence order, formulas neutralised."""
        criteria = AccessLogFilter(
            since=since,
            until=until,
            actor=actor,
            outcome=outcome,
            route=route,
            request_id=request_id,
        )
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return Stream(
            export_csv(access_log_runtime, criteria),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": (
                    f'attachment; filename="access-log-{access_log_runtime.zone}-{stamp}.csv"'
                )
            },
        )


async def export_csv(runtime: AccessLogRuntime, criteria: AccessLogFilter) -> AsyncIterator[str]:
    """CSV chunks of the matching entries, fetched in keyset batches on the log's own engine.

    The body streams after the handler returned, so it cannot use the request's session.
    """
    model = runtime.model
    table = model.__table__  # type: ignore[attr-defined]
    after = 0
    header = True
    while True:
        statement = (
            filtered(model, criteria)
            .with_only_columns(table)
            .where(model.sequence > after)
            .order_by(model.sequence)
            .limit(_EXPORT_BATCH)
        )
        async with runtime.engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        entries = [to_entry(row) for row in rows]
        if entries or header:
            yield csv_lines(entries, header=header)
        header = False
        if len(rows) < _EXPORT_BATCH:
            return
        after = entries[-1].sequence
