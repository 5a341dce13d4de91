"""Benchmark: throughput of a guarded staff endpoint with the access log on and off.

The real wiring: both servers run the issuance zone's app from
``api.issuance.app.create_app`` (``CorePlugin``: request log, staff identity with its
session, terminal-restriction, authentication and CSRF middleware and the one guard,
errors, and ``AuditPlugin``) on the same PostgreSQL, one uvicorn worker each (uvloop,
httptools). A real staff account holding ``residents.read`` calls with a real personal
access token (``Authorization: Bearer mdg_...``) the guarded route
``GET /api/residents/?reservation_id=...&limit=1`` (a resident search): per request the
token and its owner are looked up, the owner's permissions read, the token's
``last_used_at`` written, the search and its count run, and the answer committed.

- "on": the app exactly as ``create_app`` builds it: every staff request queues one
  chained access-log entry after its response.
- "off": the same ``create_app`` with ``CorePlugin`` replaced, in this benchmark's server
  process only, by a subclass that builds ``AuditPlugin(record_requests=False)`` (its
  constructor's switch: not a setting, so nothing in production can turn it on). Same
  routes, same middleware, no per-request entry.

A raw asyncio (uvloop) keep-alive HTTP/1.1 load generator in this process drives them
through ``--connections`` connections in alternating timed runs (the order flips each
run), after a warm-up. Reports the median requests/s of each and the ratio, then checks
that the "on" server logged every request it answered and that the chain verifies.

Run from the repository root: ``.venv/bin/python -m bench.access_log [--runs 5]
[--seconds 5] [--connections 32]``. Uses ``TEST_DATABASE_URL`` when set, else the
embedded server under ``var/bench-pg``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import uvloop
from litestar import Litestar
from litestar.config.app import AppConfig
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.audit import AuditPlugin
from api.core.audit.service import verify_database
from api.core.identity.passwords import PasswordPolicy
from api.core.identity.services import AccountService, RoleService
from api.core.identity.tokens import TokenService
from api.core.plugin import CorePlugin
from api.core.settings import Zone, ZoneSettings, load_settings
from bench.harness import free_port, fresh_database, start_uvicorn
from bench.keep_alive import KeepAliveConnection

DATABASE = "madoguchi_bench_access_log"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnop"
PATH = "/api/residents/?reservation_id=A01-{:06d}&limit=1"
PERMISSION = "residents.read"


# --- the app the servers run -------------------------------------------------------------


class CorePluginWithoutRequestLog(CorePlugin):
    """``CorePlugin`` whose ``AuditPlugin`` records no requests (this benchmark's "off")."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config = super().on_app_init(app_config)
        for plugin in app_config.plugins:
            if isinstance(plugin, AuditPlugin):
                plugin.record_requests = False
        return app_config


def create_app() -> Litestar:
    """The issuance app as deployed; ``BENCH_ACCESS_LOG=off`` builds it without request log."""
    from api.issuance import app as issuance  # noqa: PLC0415

    if os.environ.get("BENCH_ACCESS_LOG") == "off":
        with mock.patch.object(issuance, "CorePlugin", CorePluginWithoutRequestLog):
            return issuance.create_app()
    return issuance.create_app()


# --- the load generator ------------------------------------------------------------------


async def _client(port: int, token: str, deadline: float, counts: list[int], index: int) -> None:
    connection = await KeepAliveConnection.open(port)
    number = index
    try:
        while time.perf_counter() < deadline:
            request = (
                f"GET {PATH.format(number % 1000)} HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            )
            head, _ = await connection.exchange(request.encode())
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            counts[index] += 1
            number += 1
    finally:
        connection.close()


async def _load(port: int, token: str, seconds: float, connections: int) -> tuple[float, int]:
    counts = [0] * connections
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, token, deadline, counts, i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - started), sum(counts)


def load(port: int, token: str, seconds: float, connections: int) -> tuple[float, int]:
    """Requests per second, and requests answered, with ``connections`` keep-alive clients."""
    return uvloop.run(_load(port, token, seconds, connections))


# --- orchestration -----------------------------------------------------------------------


def environment(url: str, folder: Path) -> dict[str, str]:
    return {
        "ISSUANCE_DATABASE_URL": url,
        "ISSUANCE_SECRET_KEY": SECRET_KEY,
        "MADOGUCHI_VAR_DIR": str(folder),
    }


async def staff_token(url: str, settings: ZoneSettings) -> str:
    """A staff account holding ``residents.read`` and a personal access token of it."""
    from api.issuance.models import CORE_TABLES  # noqa: PLC0415

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            accounts = AccountService.for_zone(session, CORE_TABLES)
            roles = RoleService.for_zone(session, CORE_TABLES)
            account = await accounts.create_account(
                login_id="bench-staff",
                display_name="Bench Staff",
                password="correct horse battery staple",
                policy=PasswordPolicy(min_length=8, history=5),
                must_change_password=False,
            )
            role = await roles.create({"name": "bench-readers", "description": ""})
            await roles.set_permissions(role, [PERMISSION], settings)
            link: Any = CORE_TABLES.account_role
            session.add(link(account_id=account.id, role_id=role.id))
            await session.flush()
            _, secret = await TokenService.for_zone(session, CORE_TABLES).issue(
                owner=account,
                owner_permissions=frozenset([PERMISSION]),
                name="bench",
                permissions=[PERMISSION],
                days=1,
            )
            await session.commit()
    finally:
        await engine.dispose()
    return secret


def start_server(url: str, access_log: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    """The issuance app with its access log ``on`` or ``off``, serving on ``port``."""
    return start_uvicorn(
        "bench.access_log:create_app",
        port,
        {**environment(url, folder), "BENCH_ACCESS_LOG": access_log},
        folder / f"server-{access_log}.log",
        name=f"server ({access_log})",
    )


async def check_log(url: str) -> tuple[int, bool]:
    from api.core.audit.plugin import create_access_log_engine  # noqa: PLC0415
    from api.issuance.models import CORE_TABLES  # noqa: PLC0415

    engine = create_access_log_engine(url, null_pool=True)
    try:
        report = await verify_database(engine, CORE_TABLES.access_log)
    finally:
        await engine.dispose()
    return report.entries, report.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    arguments = parser.parse_args()
    url = fresh_database(DATABASE, Zone.ISSUANCE)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        settings = load_settings(Zone.ISSUANCE, environment(url, folder))
        token = asyncio.run(staff_token(url, settings))
        ports = {"off": free_port(), "on": free_port()}
        servers = {mode: start_server(url, mode, port, folder) for mode, port in ports.items()}
        rates: dict[str, list[float]] = {"off": [], "on": []}
        answered_on = 0
        loads = []
        try:
            for mode in ("off", "on"):  # warm-up: connections, caches, prepared statements
                load(ports[mode], token, 1.0, arguments.connections)
            time.sleep(1.0)  # let the writer flush the warm-up's entries before counting
            warmup_on = asyncio.run(check_log(url))[0]
            for run in range(arguments.runs):
                # Alternate which goes first, so drift in the machine's load hits both alike.
                for mode in ("off", "on") if run % 2 == 0 else ("on", "off"):
                    loads.append(os.getloadavg()[0])
                    rate, answered = load(
                        ports[mode], token, arguments.seconds, arguments.connections
                    )
                    rates[mode].append(rate)
                    answered_on += answered if mode == "on" else 0
                    print(f"run {run + 1} {mode:>3}: {rate:8.0f} req/s", flush=True)
        finally:
            for server in servers.values():
                server.terminate()  # uvicorn flushes the access log's queue on shutdown
                server.wait(timeout=30)
    logged, intact = asyncio.run(check_log(url))
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(
        f"median off: {off:.0f} req/s, on: {on:.0f} req/s, ratio on/off: {on / off:.3f} "
        f"(target >= 0.85); load average {min(loads):.2f}-{max(loads):.2f}"
    )
    print(
        f"access log: {logged - warmup_on} entries for {answered_on} measured requests; "
        f"chain {'verifies' if intact else 'BROKEN'}"
    )


if __name__ == "__main__":
    main()
