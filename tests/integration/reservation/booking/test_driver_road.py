"""The asyncpg road of the hot routes: pooled connections, retries, the session's answers.

The resident API's login, booking and day view run their SQL on the asyncpg connection
behind the engine's pool (``booking/driver.py``); the booking site, phone booking and the
other routes run the same statements on the ORM session. Both roads must give the same
answers, refusal for refusal, and share one pool without leaking connections.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from api.core.errors import DomainError
from api.core.settings import Zone
from api.reservation.booking.driver import (
    Db,
    DriverDb,
    SessionDb,
    Statement,
    driver_connection,
    in_transaction,
)
from api.reservation.booking.login import check_password
from api.reservation.booking.refusals import SlotFull
from api.reservation.booking.seats import NewBooking, take_seats
from tests.integration.reservation.booking.conftest import (
    Places,
    booking_settings,
    password_of,
    rid,
    slot_time,
)

TZ = ZoneInfo("Asia/Tokyo")
Road = Callable[
    [AsyncEngine], AbstractAsyncContextManager[tuple[Db, Callable[[], Awaitable[None]]]]
]


@pytest.fixture
async def engine(zone_database_urls: dict[Zone, str]) -> AsyncIterator[AsyncEngine]:
    """A pool of one connection, so a connection given back is the next one checked out."""
    pooled = create_async_engine(zone_database_urls[Zone.RESERVATION], pool_size=1, max_overflow=0)
    yield pooled
    await pooled.dispose()


@pytest.fixture
async def second_engine(zone_database_urls: dict[Zone, str]) -> AsyncIterator[AsyncEngine]:
    """Another pool, for a request racing the first one's connection."""
    pooled = create_async_engine(zone_database_urls[Zone.RESERVATION], pool_size=1, max_overflow=0)
    yield pooled
    await pooled.dispose()


@asynccontextmanager
async def session_road(
    engine: AsyncEngine,
) -> AsyncIterator[tuple[Db, Callable[[], Awaitable[None]]]]:
    """An ORM session (the booking site's and phone booking's road) and its commit."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield SessionDb(session), session.commit


@asynccontextmanager
async def driver_road(
    engine: AsyncEngine,
) -> AsyncIterator[tuple[Db, Callable[[], Awaitable[None]]]]:
    """The asyncpg connection in a transaction (the resident API's road) and its commit."""
    async with driver_connection(engine) as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield DriverDb(connection), transaction.commit
        finally:
            if connection.is_in_transaction():
                await transaction.rollback()


ROADS: dict[str, Road] = {"session": session_road, "driver": driver_road}


def test_a_statement_has_one_placeholder_per_name_in_first_use_order() -> None:
    statement = Statement(text("SELECT :b + :a, :b"))
    assert statement.sql == "SELECT $1 + $2, $1"
    assert statement.arguments({"a": 1, "b": 2}) == [2, 1]


async def test_connections_go_back_to_the_pool_and_unsound_ones_are_closed(
    engine: AsyncEngine,
) -> None:
    async with driver_connection(engine) as connection:
        first = connection.get_server_pid()
        assert not connection.is_in_transaction()  # each statement commits on its own

    # A refusal, or an error PostgreSQL answered, leaves the connection fit for reuse.
    with pytest.raises(SlotFull):
        async with driver_connection(engine):
            raise SlotFull("full")
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with driver_connection(engine) as connection:
            await connection.fetchval("SELECT 1 / 0")
    async with driver_connection(engine) as connection:
        assert connection.get_server_pid() == first

    # A transaction left open is not handed to the next request: the connection is closed.
    async with driver_connection(engine) as connection:
        await connection.transaction().start()
    assert connection.is_closed()
    async with driver_connection(engine) as connection:
        second = connection.get_server_pid()
    assert second != first

    # A request cancelled in the middle of a round trip: closed too, the pool goes on.
    started = asyncio.Event()

    async def slow() -> None:
        async with driver_connection(engine) as connection:
            started.set()
            await connection.execute("SELECT pg_sleep(10)")

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with driver_connection(engine) as connection:
        assert connection.get_server_pid() not in {first, second}
        assert await connection.fetchval("SELECT 1") == 1


async def test_a_deadlock_is_retried_whole_and_other_errors_roll_back(
    engine: AsyncEngine, places: Places
) -> None:
    insert = "INSERT INTO login_throttles (key, window_start, hits) VALUES ($1, now(), $2)"
    calls = 0

    async def deadlocked_once(db: DriverDb) -> int:
        nonlocal calls
        calls += 1
        await db.connection.execute(insert, "retried", calls)
        if calls == 1:
            await db.connection.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$"
            )
        return calls

    async def failing(db: DriverDb) -> None:
        await db.connection.execute(insert, "failed", 1)
        await db.connection.execute("SELECT 1 / 0")

    async with driver_connection(engine) as connection:
        assert await in_transaction(connection, deadlocked_once) == 2
        with pytest.raises(asyncpg.DivisionByZeroError):
            await in_transaction(connection, failing)
    rows = await places.run("SELECT key, hits FROM login_throttles ORDER BY key")
    # The first attempt's row was rolled back with it; the failed work left nothing.
    assert [(row["key"], row["hits"]) for row in rows] == [("retried", 2)]


async def _outcome(
    road: Road, engine: AsyncEngine, booking: NewBooking, *, now: dt.datetime | None = None
) -> str:
    async with road(engine) as (db, commit):
        try:
            view = await take_seats(db, booking, tz=TZ, now=now or dt.datetime.now(dt.UTC))
        except DomainError as refusal:
            return refusal.code
        await commit()
    return f"booked {view.party_size}"


def _booking(slot_id: int, *numbers: int, generation: int | None = None) -> NewBooking:
    return NewBooking(
        slot_id=slot_id,
        reservation_ids=tuple(rid(number) for number in numbers),
        channel="web",
        share="online",
        session_generation=generation,
    )


@pytest.mark.parametrize("road_name", list(ROADS))
async def test_both_roads_book_and_refuse_alike(
    road_name: str, engine: AsyncEngine, second_engine: AsyncEngine, places: Places
) -> None:
    road = ROADS[road_name]
    full = await places.add_slot("full", slot_time(3), online=2)
    other = await places.add_slot("other", slot_time(3, hour=11), online=2)
    far = await places.add_slot("far", slot_time(45))
    near = await places.add_slot("near", slot_time(0, hour=23))
    spare = await places.add_slot("spare", slot_time(4), online=2)
    await places.add_eligible(1, 2, 3, 5, 6)
    await places.add_eligible(4, revoked=True)

    outcomes = [
        await _outcome(road, engine, _booking(full + 1000, 1)),
        await _outcome(road, engine, _booking(far, 1)),
        await _outcome(road, engine, _booking(near, 1)),
        await _outcome(road, engine, _booking(full, 1, 1)),
        await _outcome(road, engine, _booking(full, 1, 99)),
        await _outcome(road, engine, _booking(full, 1, 4)),
        await _outcome(road, engine, _booking(full, 1, 2, 3)),
        await _outcome(road, engine, _booking(full, 1, generation=7)),
        await _outcome(road, engine, _booking(full, 1, 2, generation=0)),
        await _outcome(road, engine, _booking(other, 2)),
        await _outcome(road, engine, _booking(full, 3)),
    ]
    assert outcomes == [
        "slot_not_found",
        "outside_horizon",
        "deadline_passed",
        "household_invalid",
        "not_eligible",
        "member_revoked",
        "slot_full",
        "not_logged_in",
        "booked 2",
        "already_booked",
        "slot_full",
    ]

    # Two bookings for one ID racing past the pre-check: the unique index refuses the second.
    async with road(engine) as (first_db, first_commit):
        await take_seats(first_db, _booking(other, 5), tz=TZ, now=dt.datetime.now(dt.UTC))
        second = asyncio.create_task(_outcome(road, second_engine, _booking(spare, 6, 5)))
        await asyncio.sleep(0.3)  # the second waits on the index for the first to commit
        assert not second.done()
        await first_commit()
    assert await second == "already_booked"
    slots = await places.run("SELECT id, online_booked FROM slots ORDER BY id")
    # The refused booking took nothing: the counters equal a recount.
    assert [row["online_booked"] for row in slots] == [2, 1, 0, 0, 0]


@pytest.mark.parametrize("road_name", list(ROADS))
@pytest.mark.parametrize("client_address", ["10.0.0.1", None], ids=["rate-limited", "direct"])
async def test_both_roads_count_password_attempts_alike(
    road_name: str, client_address: str | None, engine: AsyncEngine, places: Places
) -> None:
    road = ROADS[road_name]
    settings = booking_settings(login_rate_limit=100)
    await places.add_eligible(1)

    async def attempt(number: int, password: str) -> tuple[str, bool]:
        async with road(engine) as (db, commit):
            check = await check_password(
                db,
                settings,
                reservation_id=rid(number),
                password=password,
                client_address=client_address,
                now=dt.datetime.now(dt.UTC),
                with_booking=True,
            )
            await commit()
        return check.outcome.value, check.locked_until is not None

    outcomes = [await attempt(1, password_of(1))]
    outcomes += [await attempt(number, "0000") for number in (1, 1, 1, 1, 1, 1)]
    outcomes += [await attempt(1, password_of(1)), await attempt(99, password_of(1))]
    assert outcomes == [
        ("login_succeeded", False),
        *[("login_failed", False)] * 4,
        ("locked_out", True),
        ("locked_out", True),
        ("locked_out", True),  # the right password is not even compared while locked
        ("login_failed", False),
    ]
    # Summed over windows: the attempts may straddle a minute.
    counters = await places.run(
        "SELECT key, sum(hits) AS hits FROM login_throttles WHERE key <> 'failures' "
        "GROUP BY key ORDER BY key"
    )
    expected: list[Any] = [("client:10.0.0.1", 9)] if client_address else []
    assert [(row["key"], row["hits"]) for row in counters] == expected
