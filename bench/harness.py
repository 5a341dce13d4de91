"""What the HTTP benchmarks share on the server side: a fresh database and a uvicorn server.

Both ``bench.access_log`` and ``bench.booking_surge`` recreate their own database on the
same PostgreSQL (``TEST_DATABASE_URL`` when set, else the embedded server under
``var/bench-pg``) and run the app under test in a uvicorn child process on a free port.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import asyncpg
from advanced_alchemy.alembic.commands import AlembicCommands

from api.core.database import (
    asyncpg_url,
    create_sqlalchemy_config,
    ensure_database,
    start_embedded_server,
)
from api.core.settings import Zone

ROOT = Path(__file__).resolve().parents[1]


def fresh_database(name: str, zone: Zone) -> str:
    """Drop and recreate database ``name``, migrate it to ``zone``'s head; its asyncpg URL."""
    admin = os.environ.get("TEST_DATABASE_URL", "").strip() or start_embedded_server(
        ROOT / "var" / "bench-pg"
    )
    url = asyncpg_url(admin, name)

    async def recreate() -> None:
        connection = await asyncpg.connect(asyncpg_url(admin).replace("+asyncpg", ""))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        await ensure_database(url)

    asyncio.run(recreate())
    AlembicCommands(create_sqlalchemy_config(zone, url, null_pool=True)).upgrade("head")
    return url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_uvicorn(
    factory: str,
    port: int,
    environment: Mapping[str, str],
    log: Path,
    *options: str,
    name: str = "server",
) -> subprocess.Popen[bytes]:
    """Start ``factory`` under uvicorn (uvloop, httptools) and return once it accepts.

    ``environment`` is added to this process's; the server's output goes to ``log``.
    Raises ``RuntimeError`` (``name`` did not start) after 30 s without a listener.
    """
    command = [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
        *options,
    ]  # fmt: skip
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    _wait_for_listener(port, [server], name)
    return server


def _wait_for_listener(port: int, processes: list[subprocess.Popen[bytes]], name: str) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.1)
    for process in processes:
        process.kill()
    message = f"{name} did not start"
    raise RuntimeError(message)


class Workers:
    """Worker processes serving one port, each on a listening socket of its own."""

    def __init__(self, processes: list[subprocess.Popen[bytes]]) -> None:
        self.processes = processes

    def terminate(self) -> None:
        """Ask every worker to stop."""
        for process in self.processes:
            process.terminate()

    def wait(self, timeout: float) -> None:
        """Wait for every worker to end."""
        for process in self.processes:
            process.wait(timeout=timeout)


def start_reuse_port_workers(
    factory: str,
    port: int,
    workers: int,
    environment: Mapping[str, str],
    log: Path,
    *options: str,
) -> Workers:
    """Start ``workers`` ``bench.reuse_port_worker`` processes serving ``factory`` on ``port``.

    ``options`` go to each worker; their output goes to ``log`` with the worker's number.
    """
    command = [sys.executable, "-m", "bench.reuse_port_worker", factory, str(port), *options]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **environment},
            stdout=log.with_suffix(f".{index}{log.suffix}").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for index in range(workers)
    ]
    _wait_for_listener(port, processes, "the workers")
    return Workers(processes)
