"""Benchmark: the booking surge at the moment bookings open, over HTTP and straight to SQL.

A real server (uvicorn, two worker processes, the resident booking routes with the core
plugin: request log, access log, errors) on PostgreSQL. Thousands of simulated residents
arrive at once; each logs in, then books (some with a household member), most of them
aiming at the same three days, trying another slot when one is full (three tries).
A pure-Python keep-alive HTTP/1.1 load generator (asyncio streams) drives it through a
fixed number of connections, as a proxy in front of the replicas would.

Baseline, in the same run: the same residents and choices, the same database work
(verify the password against its HMAC verifier, take capacity with the conditional
update, insert the booking and its members) driven directly through an asyncpg pool of
the same total size, with no HTTP.

Reports successful bookings per second (median of runs), per-request latency
p50/p95/p99, refusals by kind, overbookings and 5xx answers (both must be 0).

Run from the repository root: ``.venv/bin/python -m bench.booking_surge [--residents 3000]
[--connections 32] [--runs 3]``. Uses ``TEST_DATABASE_URL`` when set, else the embedded
server under ``var/bench-pg``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from advanced_alchemy.alembic.commands import AlembicCommands

from api.core.database import (
    asyncpg_url,
    create_sqlalchemy_config,
    ensure_database,
    start_embedded_server,
)
from api.core.settings import Zone
from api.reservation.booking.credentials import new_confirmation_code, password_verifier

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "madoguchi_bench_booking"
PASSWORD_KEY = b"bench-password-key-0123456789abcdefgh"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnop"
TZ = ZoneInfo("Asia/Tokyo")
DAYS, SLOTS_PER_DAY, HOT_DAYS = 20, 16, 3
ONLINE_CAPACITY, STAFF_CAPACITY = 10, 2
HOT_SHARE, HOUSEHOLD_SHARE, TRIES = 0.8, 0.1, 3
WORKERS, POOL_PER_WORKER = 2, 16


@dataclass(frozen=True)
class Resident:
    number: int
    reservation_id: str
    password: str
    member: tuple[str, str] | None
    choices: tuple[int, ...]


@dataclass
class Tally:
    booked: int = 0
    latencies: list[float] = field(default_factory=list)
    login_latencies: list[float] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0

    def refuse(self, code: str) -> None:
        self.refusals[code] = self.refusals.get(code, 0) + 1


def reservation_id(number: int) -> str:
    return f"B{number // 1_000_000:02d}-{number % 1_000_000:06d}"


def password_of(number: int) -> str:
    return f"{number % 12 + 1:02d}{number % 28 + 1:02d}"


# --- database ------------------------------------------------------------------------------


def database_url() -> str:
    admin = os.environ.get("TEST_DATABASE_URL", "").strip() or start_embedded_server(
        ROOT / "var" / "bench-pg"
    )
    url = asyncpg_url(admin, DATABASE)

    async def recreate() -> None:
        connection = await asyncpg.connect(asyncpg_url(admin).replace("+asyncpg", ""))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        finally:
            await connection.close()
        await ensure_database(url)

    asyncio.run(recreate())
    config = create_sqlalchemy_config(Zone.RESERVATION, url, null_pool=True)
    AlembicCommands(config).upgrade("head")
    return url


async def seed(dsn: str, residents: int) -> tuple[list[Resident], list[int]]:
    connection = await asyncpg.connect(dsn)
    try:
        location = await connection.fetchval(
            "INSERT INTO locations (code, name, address, access_notes, created_at, updated_at) "
            "VALUES ('BENCH', 'Bench office', '', '', now(), now()) RETURNING id"
        )
        first_day = dt.datetime.now(TZ).date() + dt.timedelta(days=3)
        starts = [
            dt.datetime.combine(first_day + dt.timedelta(days=day), dt.time(9, 0), tzinfo=TZ)
            + dt.timedelta(minutes=30 * index)
            for day in range(DAYS)
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
        slot_ids = [row["id"] for row in await connection.fetch("SELECT id FROM slots ORDER BY id")]
        numbers = range(1, 2 * residents + 1)  # the second half are household members
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
    chance = random.Random(20261126)
    hot = slot_ids[: HOT_DAYS * SLOTS_PER_DAY]
    plan = []
    for number in range(1, residents + 1):
        member = number + residents
        pool = hot if chance.random() < HOT_SHARE else slot_ids
        plan.append(
            Resident(
                number=number,
                reservation_id=reservation_id(number),
                password=password_of(number),
                member=(reservation_id(member), password_of(member))
                if chance.random() < HOUSEHOLD_SHARE
                else None,
                choices=tuple(chance.sample(pool, TRIES)),
            )
        )
    return plan, slot_ids


async def reset(dsn: str) -> None:
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


# --- HTTP: server and load generator ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "RESERVATION_DATABASE_URL": url,
        "RESERVATION_SECRET_KEY": SECRET_KEY,
        "RESERVATION_PASSWORD_KEY": PASSWORD_KEY.decode(),
        "RESERVATION_DATABASE_POOL_SIZE": str(POOL_PER_WORKER),
        # The load generator plays the TLS proxy: it names each resident's address.
        "RESERVATION_TRUSTED_PROXIES": "127.0.0.1/32",
        "MADOGUCHI_VAR_DIR": str(log.parent),
    }
    command = [
        sys.executable, "-m", "uvicorn", "api.reservation.booking.standalone:create_app",
        "--factory", "--port", str(port), "--workers", str(WORKERS), "--no-access-log",
        "--timeout-keep-alive", "600",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                time.sleep(1.0)  # both workers up
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    message = "server did not start"
    raise RuntimeError(message)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, path: str, body: object, headers: dict[str, str]) -> tuple[int, bytes]:
        payload = json.dumps(body).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{head}\r\n".encode()
            + payload
        )
        response = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in response.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return int(response[9:12]), await self.reader.readexactly(length)


async def http_resident(connection: Connection, resident: Resident, tally: Tally) -> None:
    address = (
        f"10.{resident.number >> 16 & 255}.{resident.number >> 8 & 255}.{resident.number & 255}"
    )
    forwarded = {"X-Forwarded-For": address}
    started = time.perf_counter()
    status, body = await connection.post(
        "/api/resident/login",
        {"reservation_id": resident.reservation_id, "password": resident.password},
        forwarded,
    )
    tally.login_latencies.append(time.perf_counter() - started)
    if status != 200:
        tally.server_errors += status >= 500
        tally.refuse("login:" + (json.loads(body)["error"]["code"] if status < 500 else "5xx"))
        return
    headers = {**forwarded, "Authorization": f"Bearer {json.loads(body)['session_token']}"}
    members = (
        [{"reservation_id": resident.member[0], "password": resident.member[1]}]
        if resident.member
        else []
    )
    for slot in resident.choices:
        started = time.perf_counter()
        status, body = await connection.post(
            "/api/resident/booking", {"slot_id": slot, "members": members}, headers
        )
        tally.latencies.append(time.perf_counter() - started)
        if status == 201:
            tally.booked += 1
            return
        if status >= 500:
            tally.server_errors += 1
            tally.refuse("5xx")
            return
        code = json.loads(body)["error"]["code"]
        tally.refuse(code)
        if code != "slot_full":
            return


async def http_surge(port: int, plan: list[Resident], connections: int) -> tuple[Tally, float]:
    queue: asyncio.Queue[Resident] = asyncio.Queue()
    for resident in plan:
        queue.put_nowait(resident)
    tally = Tally()
    opened = [
        Connection(*await asyncio.open_connection("127.0.0.1", port)) for _ in range(connections)
    ]

    async def worker(connection: Connection) -> None:
        while not queue.empty():
            await http_resident(connection, queue.get_nowait(), tally)

    started = time.perf_counter()  # every resident "arrives" now: booking opens
    await asyncio.gather(*(worker(connection) for connection in opened))
    elapsed = time.perf_counter() - started
    for connection in opened:
        connection.writer.close()
    return tally, elapsed


# --- baseline: the same database work through asyncpg -----------------------------------------

_VERIFY = (
    "SELECT password_verifier, failed_logins, locked_until FROM eligibilities "
    "WHERE reservation_id = $1"
)
_TAKE = (
    "UPDATE slots SET online_booked = online_booked + $2 "
    "WHERE id = $1 AND online_booked + $2 <= online_capacity RETURNING id"
)
_INSERT = (
    "INSERT INTO bookings (confirmation_code, slot_id, channel, share, status, party_size, memo,"
    " created_at, updated_at) VALUES ($1, $2, 'web', 'online', 'booked', $3, '', now(), now())"
    " ON CONFLICT (confirmation_code) DO NOTHING RETURNING id"
)
_MEMBERS = (
    "INSERT INTO booking_members (booking_id, reservation_id, active, created_at, updated_at)"
    " SELECT $1, m, true, now(), now() FROM unnest($2::varchar[]) AS m"
)


async def verified(connection: asyncpg.Connection, rid: str, password: str) -> bool:
    row = await connection.fetchrow(_VERIFY, rid)
    candidate = password_verifier(PASSWORD_KEY, rid, password)
    return row is not None and hmac.compare_digest(candidate, row["password_verifier"])


async def direct_resident(pool: asyncpg.Pool, resident: Resident, tally: Tally) -> None:
    async with pool.acquire() as connection:
        if not await verified(connection, resident.reservation_id, resident.password):
            tally.refuse("login_failed")
            return
        ids = [resident.reservation_id]
        if resident.member:
            if not await verified(connection, *resident.member):
                tally.refuse("member_login_failed")
                return
            ids.append(resident.member[0])
        for slot in resident.choices:
            started = time.perf_counter()
            async with connection.transaction():
                taken = await connection.fetchval(_TAKE, slot, len(ids))
                if taken is not None:
                    booking_id = await connection.fetchval(
                        _INSERT, new_confirmation_code(), slot, len(ids)
                    )
                    await connection.execute(_MEMBERS, booking_id, sorted(ids))
            tally.latencies.append(time.perf_counter() - started)
            if taken is not None:
                tally.booked += 1
                return
            tally.refuse("slot_full")


async def direct_surge(dsn: str, plan: list[Resident], connections: int) -> tuple[Tally, float]:
    queue: asyncio.Queue[Resident] = asyncio.Queue()
    for resident in plan:
        queue.put_nowait(resident)
    tally = Tally()
    size = WORKERS * POOL_PER_WORKER
    async with asyncpg.create_pool(dsn, min_size=size, max_size=size) as pool:

        async def worker() -> None:
            while not queue.empty():
                await direct_resident(pool, queue.get_nowait(), tally)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return tally, time.perf_counter() - started


# --- report --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def describe(name: str, tally: Tally, elapsed: float, audit_result: tuple[int, int]) -> float:
    rate = tally.booked / elapsed
    if tally.login_latencies:
        logins = tally.login_latencies
        print(
            f"{name:>8}: login p50 {percentile(logins, 0.5):.1f} ms, "
            f"p95 {percentile(logins, 0.95):.1f} ms, p99 {percentile(logins, 0.99):.1f} ms"
        )
    refusals = ", ".join(f"{code} {count}" for code, count in sorted(tally.refusals.items()))
    print(
        f"{name:>8}: {tally.booked} booked in {elapsed:.2f} s = {rate:7.1f} bookings/s; "
        f"p50 {percentile(tally.latencies, 0.50):.1f} ms, "
        f"p95 {percentile(tally.latencies, 0.95):.1f} ms, "
        f"p99 {percentile(tally.latencies, 0.99):.1f} ms; refusals: {refusals or 'none'}; "
        f"5xx {tally.server_errors}; overbooked slots {audit_result[0]}, "
        f"counter mismatches {audit_result[1]}",
        flush=True,
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    url = database_url()
    dsn = url.replace("+asyncpg", "")
    plan, _ = asyncio.run(seed(dsn, arguments.residents))
    seats = DAYS * SLOTS_PER_DAY * ONLINE_CAPACITY
    print(
        f"{arguments.residents} residents ({sum(1 for r in plan if r.member)} with a household "
        f"member), {seats} online seats, {HOT_SHARE:.0%} aiming at {HOT_DAYS} days "
        f"({HOT_DAYS * SLOTS_PER_DAY * ONLINE_CAPACITY} seats); {arguments.connections} "
        f"connections; {WORKERS} workers x {POOL_PER_WORKER} database connections",
        flush=True,
    )
    rates: dict[str, list[float]] = {"http": [], "baseline": []}
    latencies: list[float] = []
    overbooked = server_errors = 0
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(url, port, Path(folder) / "server.log")
        try:
            # Warm-up: connections, prepared statements, imports; then a clean slate.
            asyncio.run(http_surge(port, plan[:200], arguments.connections))
            asyncio.run(reset(dsn))
            asyncio.run(direct_surge(dsn, plan[:200], arguments.connections))
            for run in range(arguments.runs):
                for mode in ("http", "baseline") if run % 2 == 0 else ("baseline", "http"):
                    asyncio.run(reset(dsn))
                    if mode == "http":
                        tally, elapsed = asyncio.run(http_surge(port, plan, arguments.connections))
                        latencies.extend(tally.latencies + tally.login_latencies)
                    else:
                        tally, elapsed = asyncio.run(direct_surge(dsn, plan, arguments.connections))
                    checked = asyncio.run(audit(dsn))
                    overbooked += checked[0] + checked[1]
                    server_errors += tally.server_errors
                    rates[mode].append(describe(f"{mode} {run + 1}", tally, elapsed, checked))
        finally:
            server.terminate()
            server.wait(timeout=30)
    http, baseline = statistics.median(rates["http"]), statistics.median(rates["baseline"])
    print(
        f"median: http {http:.1f} bookings/s, baseline {baseline:.1f} bookings/s, "
        f"ratio {http / baseline:.2f} (target >= 0.40); "
        f"http p50 {percentile(latencies, 0.5):.1f} ms "
        f"p95 {percentile(latencies, 0.95):.1f} ms p99 {percentile(latencies, 0.99):.1f} ms "
        f"(target < 250); overbookings {overbooked}, 5xx {server_errors}"
    )


if __name__ == "__main__":
    main()
