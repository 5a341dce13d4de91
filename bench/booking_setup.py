"""The booking surge's set-up: its database (created, seeded, reset, audited) and its server.

The database is the reservation zone's schema on its own database; the server is the
resident and public availability routes (``api.reservation.booking.standalone``) under
uvicorn with ``WORKERS`` workers, configured as the scenario says.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import asyncpg

from api.core.settings import Zone
from api.reservation.booking.credentials import password_verifier
from bench.booking_scenario import (
    ALARM,
    LOCATION,
    LOGIN_RATE_LIMIT,
    ONLINE_CAPACITY,
    PASSWORD_KEY,
    POOL_PER_WORKER,
    SLOTS_PER_DAY,
    STAFF_CAPACITY,
    TIME_ZONE,
    WORKERS,
    Resident,
    opening_days,
    password_of,
    reservation_id,
    residents,
)
from bench.harness import Workers, fresh_database, start_reuse_port_workers

DATABASE = "madoguchi_bench_booking"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnop"


def database_url() -> str:
    """A freshly created and migrated reservation database; its asyncpg URL."""
    return fresh_database(DATABASE, Zone.RESERVATION)


async def seed(dsn: str, count: int) -> list[Resident]:
    """Insert the office, its slots and ``2 * count`` eligibilities; the ``count`` residents."""
    connection = await asyncpg.connect(dsn)
    days = opening_days()
    try:
        location = await connection.fetchval(
            "INSERT INTO locations (code, name, address, access_notes, created_at, updated_at) "
            "VALUES ($1, 'Bench office', '', '', now(), now()) RETURNING id",
            LOCATION,
        )
        starts = [
            dt.datetime.combine(day, dt.time(9, 0), tzinfo=TIME_ZONE)
            + dt.timedelta(minutes=30 * index)
            for day in days
            for index in range(SLOTS_PER_DAY)
        ]
        await connection.executemany(
            "INSERT INTO slots (location_id, starts_at, ends_at, online_capacity, staff_capacity,"
            " online_booked, staff_booked, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, 0, 0, now(), now())",
            [
                (location, s, s + dt.timedelta(minutes=30), ONLINE_CAPACITY, STAFF_CAPACITY)
                for s in starts
            ],
        )
        numbers = range(1, 2 * count + 1)  # the second half are household members
        await connection.copy_records_to_table(
            "eligibilities",
            columns=["reservation_id", "shipment_no", "password_verifier", "created_at",
                     "updated_at"],
            records=[
                (reservation_id(n), f"S{n:09d}",
                 password_verifier(PASSWORD_KEY, reservation_id(n), password_of(n)),
                 dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))
                for n in numbers
            ],
        )  # fmt: skip
    finally:
        await connection.close()
    return residents(count, days)


async def reset(dsn: str) -> None:
    """Back to the seeded state: no bookings, no throttles or lockouts, every slot empty."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "TRUNCATE bookings, booking_members, login_throttles, unknown_id_lockouts;"
            "UPDATE slots SET online_booked = 0, staff_booked = 0;"
            "UPDATE eligibilities SET failed_logins = 0, locked_until = NULL "
            "WHERE failed_logins > 0"
        )
    finally:
        await connection.close()


async def audit(dsn: str) -> tuple[int, int]:
    """Overbooked slots, and slots whose counters differ from a recount of the bookings."""
    connection = await asyncpg.connect(dsn)
    try:
        overbooked = await connection.fetchval(
            "SELECT count(*) FROM slots WHERE online_booked > online_capacity "
            "OR staff_booked > staff_capacity"
        )
        mismatched = await connection.fetchval(
            "SELECT count(*) FROM slots s LEFT JOIN ("
            "  SELECT slot_id, sum(party_size) FILTER (WHERE share = 'online') AS online,"
            "         sum(party_size) FILTER (WHERE share = 'staff') AS staff"
            "  FROM bookings WHERE status <> 'cancelled' GROUP BY slot_id) b ON b.slot_id = s.id "
            "WHERE s.online_booked <> coalesce(b.online, 0) "
            "OR s.staff_booked <> coalesce(b.staff, 0)"
        )
    finally:
        await connection.close()
    return int(overbooked), int(mismatched)


def start_server(url: str, port: int, log: Path) -> Workers:
    """The resident zone's server on ``url`` and ``port``, its two workers given time to start."""
    environment = {
        "RESERVATION_DATABASE_URL": url,
        "RESERVATION_SECRET_KEY": SECRET_KEY,
        "RESERVATION_PASSWORD_KEY": PASSWORD_KEY.decode(),
        "RESERVATION_DATABASE_POOL_SIZE": str(POOL_PER_WORKER),
        "RESERVATION_LOGIN_RATE_LIMIT": str(LOGIN_RATE_LIMIT),
        "RESERVATION_LOGIN_ALARM_FAILURES": str(ALARM),
        # The load generator plays the TLS proxy: it names each resident's address.
        "RESERVATION_TRUSTED_PROXIES": "127.0.0.1/32",
        "MADOGUCHI_VAR_DIR": str(log.parent),
    }
    server = start_reuse_port_workers(
        "api.reservation.booking.standalone:create_app",
        port,
        WORKERS,
        environment,
        log,
        "--timeout-keep-alive", "600",
    )  # fmt: skip
    time.sleep(1.5)  # the port answers before every worker is up
    return server
