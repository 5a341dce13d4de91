"""Reading the access log: search filters, streaming in sequence order, and verification."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.core.audit.chain import (
    GENESIS_HASH,
    PRUNED_OUTCOME,
    ChainedEntry,
    ChainReport,
    check_chain,
    checkpoint_anchor,
)
from api.core.audit.models import AccessLogMixin

_BATCH = 5000


class AccessLogFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What a search or an export selects; every field is optional and they combine (AND)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    outcome: str | None = None
    route: str | None = None
    request_id: str | None = None


def filtered(model: type[AccessLogMixin], criteria: AccessLogFilter) -> Select[Any]:
    """A SELECT of whole entries matching ``criteria`` (unordered, unlimited)."""
    statement = select(model)
    if criteria.since is not None:
        statement = statement.where(model.occurred_at >= criteria.since)
    if criteria.until is not None:
        statement = statement.where(model.occurred_at < criteria.until)
    if criteria.actor is not None:
        statement = statement.where(model.actor == criteria.actor)
    if criteria.outcome is not None:
        statement = statement.where(model.outcome == criteria.outcome)
    if criteria.route is not None:
        statement = statement.where(model.route == criteria.route)
    if criteria.request_id is not None:
        statement = statement.where(model.request_id == criteria.request_id)
    return statement


def to_entry(values: Mapping[Any, Any]) -> ChainedEntry:
    """A database row (as a mapping) as the chain sees it."""
    return ChainedEntry(**{name: values[name] for name in ChainedEntry.__struct_fields__})


async def stream_entries(
    connection: AsyncConnection,
    model: type[AccessLogMixin],
    *,
    after: int | None = None,
    through: int | None = None,
) -> AsyncIterator[ChainedEntry]:
    """Entries in sequence order, fetched in keyset batches (constant memory)."""
    table = model.__table__  # type: ignore[attr-defined]
    cursor = after
    while True:
        statement = select(table).order_by(table.c.sequence).limit(_BATCH)
        if cursor is not None:
            statement = statement.where(table.c.sequence > cursor)
        if through is not None:
            statement = statement.where(table.c.sequence <= through)
        rows = (await connection.execute(statement)).mappings().all()
        for row in rows:
            yield to_entry(row)
        if len(rows) < _BATCH:
            return
        cursor = rows[-1]["sequence"]


async def current_anchor(connection: AsyncConnection, model: type[AccessLogMixin]) -> str:
    """The hash the oldest remaining entry must link to: the last checkpoint's, or genesis."""
    table = model.__table__  # type: ignore[attr-defined]
    rows = (
        (
            await connection.execute(
                select(table)
                .where(table.c.outcome == PRUNED_OUTCOME)
                .order_by(table.c.sequence.desc())
                .limit(1)
            )
        )
        .mappings()
        .all()
    )
    anchor = checkpoint_anchor([to_entry(row) for row in rows])
    return GENESIS_HASH if anchor is None else anchor[1]


async def verify_database(engine: AsyncEngine, model: type[AccessLogMixin]) -> ChainReport:
    """Check the whole remaining chain, from the last checkpoint (or genesis) to the head.

    One REPEATABLE READ transaction, so appends made meanwhile neither show up halfway
    nor make the walk see a moving head.
    """
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            anchor = await current_anchor(connection, model)
            report = check_chain([], anchor)
            batch: list[ChainedEntry] = []
            async for entry in stream_entries(connection, model):
                batch.append(entry)
                if len(batch) == _BATCH:
                    report = check_chain(batch, anchor, after=report)
                    if not report.ok:
                        return report
                    batch = []
            return check_chain(batch, anchor, after=report)


async def count_entries(connection: AsyncConnection, model: type[AccessLogMixin]) -> int:
    """How many entries the table holds."""
    table = model.__table__  # type: ignore[attr-defined]
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())
