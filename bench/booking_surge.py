"""Benchmark: the booking surge at the moment bookings open, over HTTP and straight to SQL.

Both sides play the same residents with the same behaviour (:func:`resident_flow`); only
the client differs.

A resident logs in; looks at the slots of the day they want (80% want one of the same
three days); picks at random a slot that shows room for their party (9-10% bring a
household member, who must give their own password); books it; when refused as full,
looks at the day again and picks another; when the day shows no room, moves on to their
next day. At most ``TRIES`` booking attempts and ``LOOKS`` day views, then they give up.

HTTP side: a real server (uvicorn, two worker processes each on its own SO_REUSEPORT
socket of the port, see ``bench.reuse_port_worker``; uvloop + httptools,
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
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvloop

from bench.booking_direct import AccessLogBatcher, DirectClient
from bench.booking_http import HttpClient
from bench.booking_scenario import (
    DAYS,
    HOT_DAYS,
    HOT_SHARE,
    LOOKS,
    ONLINE_CAPACITY,
    POOL_PER_WORKER,
    SLOTS_PER_DAY,
    TRIES,
    WORKERS,
    Client,
    Resident,
    Tally,
)
from bench.booking_setup import audit, database_url, reset, seed, start_server
from bench.harness import free_port

T = TypeVar("T")


async def timed(tally: Tally, kind: str, call: Awaitable[T]) -> T:
    """Await ``call``, adding how long it took to ``tally``'s latencies of ``kind``."""
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


async def http_surge(port: int, plan: list[Resident], connections: int) -> tuple[Tally, float]:
    """The surge over HTTP against the server on ``port``; its tally and seconds."""
    tally = Tally()
    clients = [await HttpClient.open(port, tally) for _ in range(connections)]
    try:
        elapsed = await surge(list(clients), plan, tally)
    finally:
        for client in clients:
            client.close()
    return tally, elapsed


async def direct_surge(dsn: str, plan: list[Resident], connections: int) -> tuple[Tally, float]:
    """The surge straight to SQL, through a pool the size of the server's; tally and seconds."""
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
    """The ``share`` percentile of ``values`` (seconds) in milliseconds; 0 when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def latency_line(values: list[float]) -> str:
    """The p50, p95 and p99 of ``values`` in milliseconds, as one phrase of a report line."""
    return (
        f"p50 {percentile(values, 0.50):.1f} p95 {percentile(values, 0.95):.1f} "
        f"p99 {percentile(values, 0.99):.1f} ms"
    )


def describe(
    name: str, tally: Tally, elapsed: float, checked: tuple[int, int], load: tuple[float, float]
) -> float:
    """Print one run's line (``name``: bookings, rates, latencies, refusals); its bookings/s."""
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
    """Run ``main()`` to completion on a new uvloop event loop."""
    return uvloop.run(main())


def main() -> None:
    """Seed, start the server, warm up, then alternate HTTP and baseline runs and report."""
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
