"""Benchmark: the booking surge at the moment bookings open, over HTTP and straight to SQL.

Both sides play the same residents with the same behaviour (:func:`resident_flow`); only
the client differs.

A resident logs in; looks at the slots of the day they want (80% want one of the same
three days); picks at random a slot that shows room for their party (9-10% bring a
household member, who must give their own password); books it; when refused as full,
looks at the day again and picks another; when the day shows no room, moves on to their
next day. At most ``TRIES`` booking attempts and ``LOOKS`` day views, then they give up.

HTTP side: a real server (uvicorn, two worker processes, uvloop + httptools,
``api.reservation.booking.standalone:create_app`` -- the resident routes and the public
availability routes with the full ``CorePlugin``: request log, access log, identity,
errors) on PostgreSQL. The load generator is this process: raw asyncio (uvloop)
keep-alive HTTP/1.1 over ``--connections`` connections, as a proxy in front of the
replicas would hold them, with a distinct ``X-Forwarded-For`` per resident (the server
trusts 127.0.0.1 as its proxy, so the per-client rate limit is live).

Baseline side: the same residents and decisions, each step doing the database work of
the route it stands for, through an asyncpg pool of the server's total request-pool
size (2 x 16) from ``--connections`` tasks, one connection per step, no HTTP. The SQL is
the app's own statements (compiled from the same SQLAlchemy ``text()`` constants):

- login = as the route does it, in autocommit: one statement {client rate-limit upsert
  (``login_throttles``) + eligibility/lockout look-up + the login answer's booking} + HMAC
  verifier comparison; success queues an access-log row to a batching writer (as the app
  does); a failure would count the lockout and the failure rate (each statement atomic on
  its own) and write its access-log row durably before answering (as the app does);
- day view = the availability query of ``places/availability.py`` (autocommit, as the app);
- booking = every household member's password attempt (one transaction each, committed),
  then one transaction {slot, location rules and members' eligibility rows ``FOR SHARE``
  in one statement, lock-free "already full" check, the one-statement
  take-seats-and-insert}, committed.

Reports successful bookings per second (median of runs), latency p50/p95/p99 per request
(and per kind), refusals by kind, overbookings and 5xx answers (both must be 0), and the
load average over each run.

Run from the repository root: ``.venv/bin/python -m bench.booking_surge [--residents 3000]
[--connections 32] [--runs 3]``. Uses ``TEST_DATABASE_URL`` when set, else the embedded
server under ``var/bench-pg``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import uvloop
from advanced_alchemy.alembic.commands import AlembicCommands
from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from api.core.audit.events import Actor
from api.core.audit.recorder import make_row
from api.core.database import (
    asyncpg_url,
    create_sqlalchemy_config,
    ensure_database,
    start_embedded_server,
)
from api.core.settings import Zone
from api.reservation.booking import login as login_sql
from api.reservation.booking import rate_limit
from api.reservation.booking import seats as seats_sql
from api.reservation.booking.credentials import (
    new_confirmation_code,
    password_matches,
    password_verifier,
)
from api.reservation.places import availability as availability_sql

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "madoguchi_bench_booking"
PASSWORD_KEY = b"bench-password-key-0123456789abcdefgh"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnop"
TZ = ZoneInfo("Asia/Tokyo")
LOCATION = "BENCH"
DAYS, SLOTS_PER_DAY, HOT_DAYS = 20, 16, 3
ONLINE_CAPACITY, STAFF_CAPACITY = 10, 2
HOT_SHARE, HOUSEHOLD_SHARE = 0.8, 0.1
TRIES, LOOKS = 3, 5  # booking attempts and day views per resident, at most
WORKERS, POOL_PER_WORKER = 2, 16
LOGIN_RATE_LIMIT, LOCKOUT_THRESHOLD, LOCKOUT_MINUTES, ALARM = 30, 5, 30, 100

T = TypeVar("T")


@dataclass(frozen=True)
class Resident:
    number: int
    reservation_id: str
    password: str
    member: tuple[str, str] | None
    days: tuple[dt.date, ...]  # in order of preference

    @property
    def address(self) -> str:
        n = self.number
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


@dataclass
class Tally:
    booked: int = 0
    gave_up: int = 0
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"login": [], "day": [], "book": []}
    )
    refusals: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0

    def refuse(self, code: str) -> None:
        self.refusals[code] = self.refusals.get(code, 0) + 1

    def every_latency(self) -> list[float]:
        return [value for values in self.latencies.values() for value in values]


@dataclass(frozen=True)
class Slot:
    slot_id: int
    remaining: int
    bookable: bool


class Client(Protocol):
    """One resident's way to the zone: over HTTP, or straight to the database."""

    async def login(self, resident: Resident) -> str | None:
        """Log in; ``None`` on success, else the refusal code."""

    async def day(self, resident: Resident, day: dt.date) -> list[Slot]:
        """The slots of one day with remaining online places."""

    async def book(self, resident: Resident, slot_id: int) -> str | None:
        """Book (with the household member, if any); ``None`` on success, else the code."""


async def timed(tally: Tally, kind: str, call: Awaitable[T]) -> T:
    started = time.perf_counter()
    try:
        return await call
    finally:
        tally.latencies[kind].append(time.perf_counter() - started)


async def resident_flow(client: Client, resident: Resident, tally: Tally) -> None:
    """What one resident does, whichever the client (the same code drives both sides)."""
    refusal = await timed(tally, "login", client.login(resident))
    if refusal is not None:
        tally.refuse("login:" + refusal)
        return
    chance = random.Random(resident.number)
    party = 2 if resident.member else 1
    attempts = looks = 0
    for day in resident.days:
        while attempts < TRIES and looks < LOOKS:
            looks += 1
            slots = await timed(tally, "day", client.day(resident, day))
            free = [slot.slot_id for slot in slots if slot.bookable and slot.remaining >= party]
            if not free:
                tally.refuse("seen_day_full")  # no request refused: the resident moves on
                break
            attempts += 1
            refusal = await timed(tally, "book", client.book(resident, chance.choice(free)))
            if refusal is None:
                tally.booked += 1
                return
            tally.refuse(refusal)
            if refusal != "slot_full":
                return
        if attempts >= TRIES or looks >= LOOKS:
            break
    tally.gave_up += 1


async def surge(clients: list[Client], plan: list[Resident], tally: Tally) -> float:
    """Every resident arrives at once; each client serves residents one after another."""
    queue = list(reversed(plan))

    async def serve(client: Client) -> None:
        while queue:
            await resident_flow(client, queue.pop(), tally)

    started = time.perf_counter()  # booking opens now
    await asyncio.gather(*(serve(client) for client in clients))
    return time.perf_counter() - started


def reservation_id(number: int) -> str:
    return f"B{number // 1_000_000:02d}-{number % 1_000_000:06d}"


def password_of(number: int) -> str:
    return f"{number % 12 + 1:02d}{number % 28 + 1:02d}"


def first_day() -> dt.date:
    return dt.datetime.now(TZ).date() + dt.timedelta(days=3)


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


async def seed(dsn: str, residents: int) -> list[Resident]:
    connection = await asyncpg.connect(dsn)
    days = [first_day() + dt.timedelta(days=day) for day in range(DAYS)]
    try:
        location = await connection.fetchval(
            "INSERT INTO locations (code, name, address, access_notes, created_at, updated_at) "
            "VALUES ($1, 'Bench office', '', '', now(), now()) RETURNING id",
            LOCATION,
        )
        starts = [
            dt.datetime.combine(day, dt.time(9, 0), tzinfo=TZ) + dt.timedelta(minutes=30 * index)
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
    hot, cold = days[:HOT_DAYS], days[HOT_DAYS:]
    plan = []
    for number in range(1, residents + 1):
        member = number + residents
        if chance.random() < HOT_SHARE:
            preference = chance.sample(hot, len(hot)) + chance.sample(cold, len(cold))
        else:
            preference = chance.sample(days, len(days))
        plan.append(
            Resident(
                number=number,
                reservation_id=reservation_id(number),
                password=password_of(number),
                member=(reservation_id(member), password_of(member))
                if chance.random() < HOUSEHOLD_SHARE
                else None,
                days=tuple(preference),
            )
        )
    return plan


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
        "RESERVATION_LOGIN_RATE_LIMIT": str(LOGIN_RATE_LIMIT),
        "RESERVATION_LOGIN_ALARM_FAILURES": str(ALARM),
        # The load generator plays the TLS proxy: it names each resident's address.
        "RESERVATION_TRUSTED_PROXIES": "127.0.0.1/32",
        "MADOGUCHI_VAR_DIR": str(log.parent),
    }
    command = [
        sys.executable, "-m", "uvicorn", "api.reservation.booking.standalone:create_app",
        "--factory", "--port", str(port), "--workers", str(WORKERS), "--no-access-log",
        "--loop", "uvloop", "--http", "httptools", "--timeout-keep-alive", "600",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                time.sleep(1.5)  # both workers up
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    message = "server did not start"
    raise RuntimeError(message)


class HttpClient:
    """One keep-alive HTTP/1.1 connection, raw asyncio streams (no client library)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tally: Tally
    ) -> None:
        self.reader, self.writer, self.tally = reader, writer, tally
        self.token = ""

    @classmethod
    async def open(cls, port: int, tally: Tally) -> HttpClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port), tally)

    async def request(
        self, method: str, path: str, resident: Resident, body: object = None
    ) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: {resident.address}\r\n"
        if self.token:
            head += f"Authorization: Bearer {self.token}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        response = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in response.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        status = int(response[9:12])
        answer = await self.reader.readexactly(length)
        if status >= 500:
            self.tally.server_errors += 1
            return status, None
        return status, json.loads(answer) if answer else None

    @staticmethod
    def code(status: int, answer: Any) -> str:
        return "5xx" if status >= 500 else str(answer["error"]["code"])

    async def login(self, resident: Resident) -> str | None:
        self.token = ""
        status, answer = await self.request(
            "POST",
            "/api/resident/login",
            resident,
            {"reservation_id": resident.reservation_id, "password": resident.password},
        )
        if status != 200:
            return self.code(status, answer)
        self.token = answer["session_token"]
        return None

    async def day(self, resident: Resident, day: dt.date) -> list[Slot]:
        status, answer = await self.request(
            "GET", f"/api/locations/{LOCATION}/days/{day.isoformat()}", resident
        )
        if status != 200:
            return []
        return [
            Slot(slot["slot_id"], slot["remaining_online"], slot["bookable"])
            for slot in answer["slots"]
        ]

    async def book(self, resident: Resident, slot_id: int) -> str | None:
        members = (
            [{"reservation_id": resident.member[0], "password": resident.member[1]}]
            if resident.member
            else []
        )
        status, answer = await self.request(
            "POST", "/api/resident/booking", resident, {"slot_id": slot_id, "members": members}
        )
        return None if status == 201 else self.code(status, answer)


async def http_surge(port: int, plan: list[Resident], connections: int) -> tuple[Tally, float]:
    tally = Tally()
    clients = [await HttpClient.open(port, tally) for _ in range(connections)]
    try:
        elapsed = await surge(list(clients), plan, tally)
    finally:
        for client in clients:
            client.writer.close()
    return tally, elapsed


# --- baseline: the same database work through asyncpg -----------------------------------------


ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


class Sql:
    """An app statement compiled for asyncpg: ``$n`` placeholders and the names' order."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled: Any = statement.compile(dialect=ASYNCPG)
        self.text = compiled.string
        self.names = list(compiled.positiontup or [])

    def args(self, **values: Any) -> list[Any]:
        return [values[name] for name in dict.fromkeys(self.names)]


# The app's own statements (private names on purpose: the same text, so the same work).
HIT = Sql(rate_limit._HIT.clause)
PRUNE = Sql(rate_limit._PRUNE.clause)
HIT_AND_LOOK_UP = Sql(login_sql._HIT_AND_LOOK_UP.clause)
HIT_AND_LOOK_UP_WITH_BOOKING = Sql(login_sql._HIT_AND_LOOK_UP_WITH_BOOKING.clause)
RESET = Sql(login_sql._RESET.clause)
FAIL = {True: Sql(login_sql._FAIL_KNOWN.clause), False: Sql(login_sql._FAIL_UNKNOWN.clause)}
SLOT_AND_MEMBERS = Sql(seats_sql._SLOT_AND_MEMBERS.clause)
BOOK = Sql(seats_sql._BOOK["online"].clause)
DAY = Sql(availability_sql._DAY.clause)
ACCESS_LOG = (
    "INSERT INTO access_log (occurred_at, zone, actor, actor_kind, terminal, client_address,"
    " method, route, resource_ids, outcome, status, duration_ms, request_id, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14::jsonb)"
)


def access_row(resident_id: str, address: str, route: str, outcome: str) -> tuple[Any, ...]:
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
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.executemany(ACCESS_LOG, rows)

    async def drain(self) -> None:
        while True:
            rows = [await self.queue.get()]
            while len(rows) < 500 and not self.queue.empty():
                rows.append(self.queue.get_nowait())
            await self.write_now(rows)
            for _ in rows:
                self.queue.task_done()

    async def close(self) -> None:
        await self.queue.join()
        self.task.cancel()


class DirectClient:
    """The database work of each route, through asyncpg, with no HTTP and no framework."""

    def __init__(self, pool: asyncpg.Pool, log: AccessLogBatcher) -> None:
        self.pool, self.log = pool, log

    async def password_attempt(
        self,
        connection: asyncpg.Connection,
        rid: str,
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
        look_up = HIT_AND_LOOK_UP_WITH_BOOKING if login else HIT_AND_LOOK_UP
        async with contextlib.AsyncExitStack() as stack:
            if not login:
                await stack.enter_async_context(connection.transaction())
            if secrets.randbelow(500) == 0:
                await connection.execute(PRUNE.text)
            row = await connection.fetchrow(
                look_up.text,
                *look_up.args(rid=rid, key=rate_limit.client_key(address), window=60),
            )
            outcome = "login_succeeded"
            if row["hits"] > LOGIN_RATE_LIMIT:
                outcome = "rate_limited"
            elif row["locked_until"] is not None and row["locked_until"] > now:
                outcome = "locked_out"
            elif password_matches(PASSWORD_KEY, rid, password, row["password_verifier"]):
                if row["failed_logins"] or row["locked_until"] is not None:
                    await connection.execute(RESET.text, *RESET.args(rid=rid))
            else:
                known = row["password_verifier"] is not None
                limits = {"threshold": LOCKOUT_THRESHOLD, "minutes": LOCKOUT_MINUTES}
                await connection.fetchval(FAIL[known].text, *FAIL[known].args(rid=rid, **limits))
                await connection.fetchval(
                    HIT.text, *HIT.args(key=rate_limit.FAILURES_KEY, window=60)
                )
                outcome = "login_failed"
        entry = access_row(rid, address, route, outcome)
        if outcome == "login_succeeded":
            self.log.queue.put_nowait(entry)
            return None
        await self.log.write_now([entry])  # durable before the answer
        return outcome

    async def login(self, resident: Resident) -> str | None:
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
        lower = dt.datetime.combine(day, dt.time(), tzinfo=TZ)
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                DAY.text,
                *DAY.args(
                    code=LOCATION,
                    lower=lower,
                    upper=lower + dt.timedelta(days=1),
                    tz=TZ.key,
                    now=dt.datetime.now(TZ),
                ),
            )
        return [Slot(row["id"], row["remaining"], row["bookable"]) for row in rows]

    async def book(self, resident: Resident, slot_id: int) -> str | None:
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


async def direct_surge(dsn: str, plan: list[Resident], connections: int) -> tuple[Tally, float]:
    tally = Tally()
    size = WORKERS * POOL_PER_WORKER
    async with asyncpg.create_pool(dsn, min_size=size, max_size=size) as pool:
        log = AccessLogBatcher(pool)
        clients: list[Client] = [DirectClient(pool, log) for _ in range(connections)]
        elapsed = await surge(clients, plan, tally)
        await log.close()
    return tally, elapsed


# --- report --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def latency_line(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.50):.1f} p95 {percentile(values, 0.95):.1f} "
        f"p99 {percentile(values, 0.99):.1f} ms"
    )


def describe(
    name: str, tally: Tally, elapsed: float, checked: tuple[int, int], load: tuple[float, float]
) -> float:
    rate = tally.booked / elapsed
    requests = len(tally.every_latency())
    refusals = ", ".join(f"{code} {count}" for code, count in sorted(tally.refusals.items()))
    kinds = "; ".join(
        f"{kind} {len(values)}x {latency_line(values)}" for kind, values in tally.latencies.items()
    )
    print(
        f"{name:>11}: {tally.booked} booked, {tally.gave_up} gave up, in {elapsed:.2f} s = "
        f"{rate:6.1f} bookings/s, {requests / elapsed:6.0f} requests/s; all "
        f"{latency_line(tally.every_latency())}\n{'':>13}{kinds}\n{'':>13}refusals: "
        f"{refusals or 'none'}; 5xx {tally.server_errors}; overbooked slots {checked[0]}, "
        f"counter mismatches {checked[1]}; load average {load[0]:.2f} -> {load[1]:.2f}",
        flush=True,
    )
    return rate


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    url = database_url()
    dsn = url.replace("+asyncpg", "")
    plan = asyncio.run(seed(dsn, arguments.residents))
    seats = DAYS * SLOTS_PER_DAY * ONLINE_CAPACITY
    print(
        f"{arguments.residents} residents ({sum(1 for r in plan if r.member)} with a household "
        f"member), {seats} online seats, {HOT_SHARE:.0%} wanting {HOT_DAYS} days "
        f"({HOT_DAYS * SLOTS_PER_DAY * ONLINE_CAPACITY} seats); at most {TRIES} booking "
        f"attempts and {LOOKS} day views each; {arguments.connections} connections; "
        f"{WORKERS} workers x {POOL_PER_WORKER} database connections",
        flush=True,
    )
    rates: dict[str, list[float]] = {"http": [], "baseline": []}
    latencies: dict[str, list[float]] = {"login": [], "day": [], "book": []}
    overbooked = server_errors = 0
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(url, port, Path(folder) / "server.log")
        try:
            # Warm-up: connections, prepared statements, imports; then a clean slate.
            warm = plan[:300]
            run(lambda: http_surge(port, warm, arguments.connections))
            asyncio.run(reset(dsn))
            run(lambda: direct_surge(dsn, warm, arguments.connections))
            for number in range(arguments.runs):
                for mode in ("http", "baseline") if number % 2 == 0 else ("baseline", "http"):
                    asyncio.run(reset(dsn))
                    time.sleep(1.0)  # let the server's access-log writer settle
                    load = os.getloadavg()[0]
                    if mode == "http":
                        tally, elapsed = run(lambda: http_surge(port, plan, arguments.connections))
                        for kind, values in tally.latencies.items():
                            latencies[kind].extend(values)
                    else:
                        tally, elapsed = run(lambda: direct_surge(dsn, plan, arguments.connections))
                    checked = asyncio.run(audit(dsn))
                    overbooked += checked[0] + checked[1]
                    server_errors += tally.server_errors
                    rates[mode].append(
                        describe(
                            f"{mode} {number + 1}",
                            tally,
                            elapsed,
                            checked,
                            (load, os.getloadavg()[0]),
                        )
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
    http, baseline = statistics.median(rates["http"]), statistics.median(rates["baseline"])
    every = [value for values in latencies.values() for value in values]
    print(
        f"median: http {http:.1f} bookings/s, baseline {baseline:.1f} bookings/s, "
        f"ratio {http / baseline:.2f} (target >= 0.40); http all requests {latency_line(every)} "
        f"(target p99 < 250); "
        + "; ".join(f"{kind} {latency_line(values)}" for kind, values in latencies.items())
        + f"; overbookings {overbooked}, 5xx {server_errors}"
    )


if __name__ == "__main__":
    main()
