"""Benchmark: throughput of a guarded staff endpoint with the access log on and off.

Two uvicorn servers (one worker each) serve the same app, one with ``AuditPlugin`` and
one without, on the same PostgreSQL; a pure-Python keep-alive HTTP/1.1 load generator
(asyncio streams, no client library overhead) drives them in alternating timed runs.
Reports the median requests/s of each and the ratio; then checks that the "on" server
logged every request it answered and that the chain verifies.

Run from the repository root: ``.venv/bin/python -m bench.access_log [--runs 5]
[--seconds 5] [--connections 32]``. Uses ``TEST_DATABASE_URL`` when set, else the
embedded server under ``var/bench-pg``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from advanced_alchemy.alembic.commands import AlembicCommands
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import FromPath
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit import Actor, AuditPlugin
from api.core.audit.service import verify_database
from api.core.database import (
    asyncpg_url,
    create_sqlalchemy_config,
    ensure_database,
    start_embedded_server,
)
from api.core.errors import exception_handlers
from api.core.logging import configure_logging, request_log_middleware
from api.core.settings import Zone, load_settings

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "madoguchi_bench_access_log"
PATH = "/api/bench/residents/{}"


# --- the app the servers run -------------------------------------------------------------


class BearerActor(ASGIMiddleware):
    """Stands in for the real authentication: ``Authorization: Bearer <login>``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        header = dict(scope["headers"]).get(b"authorization", b"")
        login = header.removeprefix(b"Bearer ").decode() if header else ""
        scope["user"] = Actor(kind="staff", name=login, terminal="BENCH-01") if login else None
        await next_app(scope, receive, send)


def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("user") is None:
        raise NotAuthorizedException


@get("/api/bench/residents/{resident_id:int}", guards=[staff_only])
async def resident(
    resident_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> dict[str, Any]:
    # A typical staff read: one small query on the zone's database.
    found = await db_session.execute(
        text("SELECT id FROM staff_accounts WHERE id = :id"), {"id": resident_id}
    )
    return {"resident_id": resident_id, "found": found.first() is not None}


def create_app() -> Litestar:
    """The benchmark app; ``BENCH_ACCESS_LOG=on`` adds the access log."""
    from api.issuance.models import CORE_TABLES  # noqa: PLC0415

    url = os.environ["BENCH_DATABASE_URL"]
    settings = load_settings(
        Zone.ISSUANCE,
        {"MADOGUCHI_VAR_DIR": tempfile.gettempdir(), "MADOGUCHI_LOG_LEVEL": "WARNING"},
    )
    configure_logging(settings)
    plugins: list[Any] = [
        SQLAlchemyPlugin(config=create_sqlalchemy_config(Zone.ISSUANCE, url, pool_size=10))
    ]
    if os.environ.get("BENCH_ACCESS_LOG") == "on":
        plugins.append(AuditPlugin("issuance", url, CORE_TABLES.access_log))

    def log_requests(app: Litestar) -> None:
        app.asgi_handler = request_log_middleware(app.asgi_handler)

    return Litestar(
        route_handlers=[resident],
        middleware=[BearerActor()],
        exception_handlers=exception_handlers,
        plugins=plugins,
        on_startup=[log_requests],
        logging_config=None,
    )


# --- the load generator ------------------------------------------------------------------


async def _client(port: int, deadline: float, counts: list[int], index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    number = index
    try:
        while time.perf_counter() < deadline:
            request = (
                f"GET {PATH.format(number % 1000)} HTTP/1.1\r\nHost: bench\r\n"
                "Authorization: Bearer bench-staff\r\n\r\n"
            )
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            counts[index] += 1
            number += 1
    finally:
        writer.close()


async def _load(port: int, seconds: float, connections: int) -> tuple[float, int]:
    counts = [0] * connections
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(port, deadline, counts, i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - started), sum(counts)


def load(port: int, seconds: float, connections: int) -> tuple[float, int]:
    """Requests per second, and requests answered, with ``connections`` keep-alive clients."""
    return asyncio.run(_load(port, seconds, connections))


# --- orchestration -----------------------------------------------------------------------


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
    AlembicCommands(create_sqlalchemy_config(Zone.ISSUANCE, url, null_pool=True)).upgrade("head")
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(url: str, access_log: str, port: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_ACCESS_LOG": access_log}
    command = [
        sys.executable, "-m", "uvicorn", "bench.access_log:create_app", "--factory",
        "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=environment)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    message = f"server ({access_log}) did not start"
    raise RuntimeError(message)


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
    url = database_url()
    ports = {"off": free_port(), "on": free_port()}
    servers = {mode: start_server(url, mode, port) for mode, port in ports.items()}
    rates: dict[str, list[float]] = {"off": [], "on": []}
    answered_on = 0
    try:
        for mode in ("off", "on"):  # warm-up: connections, caches, prepared statements
            load(ports[mode], 1.0, arguments.connections)
        time.sleep(1.0)  # let the writer flush the warm-up's entries before counting
        warmup_on = asyncio.run(check_log(url))[0]
        for run in range(arguments.runs):
            # Alternate which goes first, so drift in the machine's load hits both alike.
            for mode in ("off", "on") if run % 2 == 0 else ("on", "off"):
                rate, answered = load(ports[mode], arguments.seconds, arguments.connections)
                rates[mode].append(rate)
                answered_on += answered if mode == "on" else 0
                print(f"run {run + 1} {mode:>3}: {rate:8.0f} req/s", flush=True)
    finally:
        for server in servers.values():
            server.terminate()  # uvicorn flushes the access log's queue on shutdown
            server.wait(timeout=30)
    logged, intact = asyncio.run(check_log(url))
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"median off: {off:.0f} req/s, on: {on:.0f} req/s, ratio on/off: {on / off:.3f}")
    print(
        f"access log: {logged - warmup_on} entries for about {answered_on} measured requests; "
        f"chain {'verifies' if intact else 'BROKEN'}"
    )


if __name__ == "__main__":
    main()
