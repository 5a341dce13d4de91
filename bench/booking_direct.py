"""The booking surge's baseline: a :class:`~bench.booking_scenario.Client` straight to SQL.

Each step does the database work of the route it stands for through asyncpg, with no HTTP
and no framework, using the app's own statements (compiled from the same SQLAlchemy
``text()`` constants), so the two sides differ only in what lies around that work.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
from typing import Any

import asyncpg
from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from api.core.audit.events import Actor
from api.core.audit.recorder import make_row
from api.reservation.booking import login as login_sql
from api.reservation.booking import rate_limit
from api.reservation.booking import seats as seats_sql
from api.reservation.booking.credentials import new_confirmation_code, password_matches
from api.reservation.places import availability as availability_sql
from bench.booking_scenario import (
    LOCATION,
    LOCKOUT_MINUTES,
    LOCKOUT_THRESHOLD,
    LOGIN_RATE_LIMIT,
    PASSWORD_KEY,
    TIME_ZONE,
    Resident,
    Slot,
)

ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


class Sql:
    """An app statement compiled for asyncpg: ``$n`` placeholders and the names' order."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled: Any = statement.compile(dialect=ASYNCPG)
        self.text = compiled.string
        self.names = list(compiled.positiontup or [])

    def args(self, **values: Any) -> list[Any]:
        """The positional arguments for asyncpg, from the values by parameter name."""
        return [values[name] for name in dict.fromkeys(self.names)]


# The app's own statements (private names on purpose: the same text, so the same work).
HIT = Sql(rate_limit._HIT.clause)
PRUNE = Sql(rate_limit._PRUNE.clause)
HIT_AND_ATTEMPT = Sql(login_sql._HIT_AND_ATTEMPT.clause)
HIT_AND_ATTEMPT_WITH_BOOKING = Sql(login_sql._HIT_AND_ATTEMPT_WITH_BOOKING.clause)
RESET = Sql(login_sql._RESET.clause)
SLOT_AND_MEMBERS = Sql(seats_sql._SLOT_AND_MEMBERS.clause)
BOOK = Sql(seats_sql._BOOK["online"].clause)
DAY = Sql(availability_sql._DAY.clause)
ACCESS_LOG = (
    "INSERT INTO access_log (occurred_at, zone, actor, actor_kind, terminal, client_address,"
    " method, route, resource_ids, outcome, status, duration_ms, request_id, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14::jsonb)"
)


def access_row(resident_id: str, address: str, route: str, outcome: str) -> tuple[Any, ...]:
    """The access-log row the app writes for a resident's password attempt (``ACCESS_LOG``)."""
    row = make_row(
        zone="reservation",
        actor=Actor(kind="resident", name=resident_id),
        client_address=address,
        method="POST",
        route=route,
        outcome=outcome,
        request_id=secrets.token_hex(16),
    )
    return (
        row["occurred_at"], row["zone"], row["actor"], row["actor_kind"], row["terminal"],
        row["client_address"], row["method"], row["route"], json.dumps(row["resource_ids"]),
        row["outcome"], row["status"], row["duration_ms"], row["request_id"],
        json.dumps(row["detail"]),
    )  # fmt: skip


class AccessLogBatcher:
    """The baseline's stand-in for the access log's batching writer: one insert per batch."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self.drain())

    async def write_now(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` in one committed transaction, now."""
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.executemany(ACCESS_LOG, rows)

    async def drain(self) -> None:
        """Write what is queued, up to 500 rows an insert, for ever (the background task)."""
        while True:
            rows = [await self.queue.get()]
            while len(rows) < 500 and not self.queue.empty():
                rows.append(self.queue.get_nowait())
            await self.write_now(rows)
            for _ in rows:
                self.queue.task_done()

    async def close(self) -> None:
        """Wait until every queued row is written, then stop."""
        await self.queue.join()
        self.task.cancel()


class DirectClient:
    """The database work of each route, through asyncpg, with no HTTP and no framework."""

    def __init__(self, pool: asyncpg.Pool, log: AccessLogBatcher) -> None:
        self.pool, self.log = pool, log

    async def password_attempt(
        self,
        connection: asyncpg.Connection,
        reservation_id: str,
        password: str,
        address: str,
        route: str,
        *,
        login: bool,
    ) -> str | None:
        """``check_password`` + commit + the access log, as ``attempt_login`` does them.

        A login (``login=True``), as the login route does it: each statement commits on its
        own (autocommit) and the look-up also reads the answer's booking. A household
        member's attempt in a booking: one transaction, committed.
        """
        now = dt.datetime.now(dt.UTC)
        attempt = HIT_AND_ATTEMPT_WITH_BOOKING if login else HIT_AND_ATTEMPT
        async with contextlib.AsyncExitStack() as stack:
            if not login:
                await stack.enter_async_context(connection.transaction())
            if secrets.randbelow(500) == 0:
                await connection.execute(PRUNE.text)
            row = await connection.fetchrow(
                attempt.text,
                *attempt.args(
                    rid=reservation_id,
                    key=rate_limit.client_key(address),
                    window=60,
                    limit=LOGIN_RATE_LIMIT,
                    threshold=LOCKOUT_THRESHOLD,
                    minutes=LOCKOUT_MINUTES,
                ),
            )
            outcome = "login_succeeded"
            if row["hits"] > LOGIN_RATE_LIMIT:
                outcome = "rate_limited"
            elif not row["counted"]:
                outcome = "locked_out"
            elif password_matches(PASSWORD_KEY, reservation_id, password, row["password_verifier"]):
                await connection.execute(RESET.text, *RESET.args(rid=reservation_id))
            else:
                await connection.fetchval(
                    HIT.text, *HIT.args(key=rate_limit.FAILURES_KEY, window=60)
                )
                locked = row["locked_after"] is not None and row["locked_after"] > now
                outcome = "locked_out" if locked else "login_failed"
        entry = access_row(reservation_id, address, route, outcome)
        if outcome == "login_succeeded":
            self.log.queue.put_nowait(entry)
            return None
        await self.log.write_now([entry])  # durable before the answer
        return outcome

    async def login(self, resident: Resident) -> str | None:
        """Log in; ``None`` on success, else the refusal code."""
        async with self.pool.acquire() as connection:
            return await self.password_attempt(
                connection,
                resident.reservation_id,
                resident.password,
                resident.address,
                "/api/resident/login",
                login=True,
            )

    async def day(self, _: Resident, day: dt.date) -> list[Slot]:
        """The slots of one day with remaining online places."""
        lower = dt.datetime.combine(day, dt.time(), tzinfo=TIME_ZONE)
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                DAY.text,
                *DAY.args(
                    code=LOCATION,
                    lower=lower,
                    upper=lower + dt.timedelta(days=1),
                    tz=TIME_ZONE.key,
                    now=dt.datetime.now(TIME_ZONE),
                ),
            )
        return [Slot(row["id"], row["remaining"], row["bookable"]) for row in rows]

    async def book(self, resident: Resident, slot_id: int) -> str | None:
        """Book (with the household member, if any); ``None`` on success, else the code."""
        async with self.pool.acquire() as connection:
            ids = [resident.reservation_id]
            if resident.member:  # the member's password attempt commits on its own
                refusal = await self.password_attempt(
                    connection,
                    *resident.member,
                    resident.address,
                    "/api/resident/booking",
                    login=False,
                )
                if refusal is not None:
                    return "member_" + refusal
                ids.append(resident.member[0])
            async with connection.transaction():
                rows = await connection.fetch(
                    SLOT_AND_MEMBERS.text,
                    *SLOT_AND_MEMBERS.args(slot_id=slot_id, ids=sorted(ids)),
                )
                if rows[0]["online_free"] < len(ids):
                    return "slot_full"  # the transaction rolls back, as the app's does
                taken = await connection.fetchrow(
                    BOOK.text,
                    *BOOK.args(
                        slot_id=slot_id, channel="web", seats=len(ids), email=None, memo="",
                        staff_login_id=None, ids=ids, code=new_confirmation_code(),
                    ),
                )  # fmt: skip
                if taken["slot_id"] is None:
                    return "slot_full"
            return None
