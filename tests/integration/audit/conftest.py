"""Fixtures of the access-log tests: committed rows on each zone's test database.

The chain's guarantees are about what other connections see, so these tests commit
(through their own engine) and empty the table afterwards instead of rolling back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.audit.cli import access_log_model
from api.core.audit.events import Actor
from api.core.audit.models import AccessLogMixin
from api.core.audit.recorder import AccessLogWriter, make_row
from api.core.database import TRUNCATE_ON_PURPOSE
from api.core.settings import Zone


@dataclass
class AuditDatabase:
    """One zone's test database, seen by the access-log tests."""

    zone: Zone
    url: str
    engine: AsyncEngine
    model: type[AccessLogMixin]

    @property
    def dsn(self) -> str:
        """The URL for asyncpg itself."""
        return self.url.replace("+asyncpg", "")

    async def append(self, count: int, **overrides: Any) -> None:
        """Commit ``count`` entries through the writer's path."""
        rows = [sample_row(self.zone, index, **overrides) for index in range(count)]
        await AccessLogWriter(self.engine, self.model).write_now(rows)

    async def tamper(self, statement: str, *arguments: Any) -> None:
        """Run SQL with triggers off, as an attacker with superuser rights could."""
        connection = await asyncpg.connect(self.dsn)
        try:
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                await connection.execute(statement, *arguments)
        finally:
            await connection.close()

    async def fetch(self, query: str, *arguments: Any) -> list[asyncpg.Record]:
        """Rows of a query on a fresh connection."""
        connection = await asyncpg.connect(self.dsn)
        try:
            return list(await connection.fetch(query, *arguments))
        finally:
            await connection.close()


def sample_row(zone: Zone, index: int, **overrides: Any) -> dict[str, Any]:
    """A varied staff-request row (non-ASCII, nulls, detail) for the chain to hash."""
    values: dict[str, Any] = {
        "zone": zone.value,
        "actor": Actor(kind="staff", name=f"窓口職員{index}", terminal=f"T-{index % 3}")
        if index % 4
        else Actor(kind="anonymous"),
        "client_address": "192.0.2.10",
        "method": "GET",
        "route": "/api/residents/{resident_id:int}",
        "outcome": "success",
        "resource_ids": [f"resident_id={index}"],
        "status": 200,
        "duration_ms": index,
        "request_id": f"req{index:08d}",
        "detail": {"ä": "1", "b": "=SUM(A1)"} if index % 2 else {},
    }
    values.update(overrides)
    return make_row(**values)


async def _empty(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"{TRUNCATE_ON_PURPOSE}; TRUNCATE access_log RESTART IDENTITY")
    finally:
        await connection.close()


@pytest.fixture(params=list(Zone), ids=lambda zone: zone.value)
async def audit_database(
    request: pytest.FixtureRequest, zone_database_urls: dict[Zone, str]
) -> AsyncIterator[AuditDatabase]:
    """Each zone's access log in turn, committed to, and emptied after the test."""
    zone: Zone = request.param
    url = zone_database_urls[zone]
    engine = create_async_engine(url, poolclass=NullPool)
    database = AuditDatabase(zone=zone, url=url, engine=engine, model=access_log_model(zone))
    await _empty(database.dsn)
    try:
        yield database
    finally:
        await engine.dispose()
        await _empty(database.dsn)


def days_ago(days: int) -> dt.datetime:
    """A time ``days`` before now, in UTC."""
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
