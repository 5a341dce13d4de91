"""A real nginx (Debian's package) with the committed deploy/nginx files, in front of the zones.

Each zone runs as in production, ``madoguchi <zone> serve``, on the test database of
``tests/conftest.py``; nginx runs in the foreground with its own prefix, pid, logs and
temporary folders under a temporary directory, on free loopback ports. The configuration
is the committed file with only its ports, upstream address and paths replaced as text, so
the tests check the real file. Without nginx the tests are skipped with a message, except
with ``CI=true``, where a missing nginx fails the run (as a missing Chromium does).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.identity.services import TerminalService
from api.core.identity.terminals import canonical_fingerprint
from api.core.settings import Zone
from api.core.tables import CoreTables
from api.issuance.models import CORE_TABLES as ISSUANCE_TABLES
from api.reservation.models import CORE_TABLES as RESERVATION_TABLES
from tests.conftest import truncate_all
from tests.integration.deploy.pki import Pki, make_pki
from tests.staff import create_staff_account
from tests.support import free_port, make_settings, missing_tool, served_zone, stop

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "deploy" / "nginx"
STAFF_LOGIN = "counter-staff"
TERMINAL_NAME = "counter-1"


def _missing(what: str) -> NoReturn:
    missing_tool(
        f"{what}: the nginx tests need Debian's nginx (apt-get install nginx, see .ci/run)"
    )


@pytest.fixture(scope="session")
def nginx_binary() -> Path:
    """Debian's nginx, or a skip (a failure with CI=true)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which("nginx", path=search)
    if found is None:
        _missing("no nginx on PATH or in /usr/sbin")
    return Path(found)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The city CA, server certificates, a terminal's certificate and a foreign one."""
    return make_pki(tmp_path_factory.mktemp("tls"))


def _wait_for(ports: Iterable[int], process: subprocess.Popen[bytes], log: Path, name: str) -> None:
    # Until every port accepts a connection; fail with the log if the process ends first.
    deadline = time.monotonic() + 40
    for port in ports:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"{name} did not start:\n{log.read_text()}", pytrace=False)
                time.sleep(0.1)


@dataclass(frozen=True)
class ZoneServer:
    """A zone served by ``madoguchi <zone> serve`` on loopback."""

    zone: Zone
    port: int
    database_url: str

    @property
    def url(self) -> str:
        """Its address, reached directly (not through nginx)."""
        return f"http://127.0.0.1:{self.port}"


def _serve(
    zone: Zone, database_url: str, folder: Path, settings: Mapping[str, str]
) -> Iterator[ZoneServer]:
    port = free_port()
    log = folder / "server.log"
    environment = {
        **os.environ,
        **settings,
        f"{zone.value.upper()}_DATABASE_URL": database_url,
        "MADOGUCHI_VAR_DIR": str(folder),
        "MADOGUCHI_LOG_FORMAT": "json",
        "MADOGUCHI_LOG_LEVEL": "WARNING",
    }
    with served_zone(zone, port, environment, log):
        yield ZoneServer(zone, port, database_url)


@dataclass(frozen=True)
class Proxy:
    """nginx running one committed configuration."""

    https_port: int
    http_port: int
    folder: Path

    @property
    def https(self) -> str:
        """The TLS side's base URL."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http(self) -> str:
        """The plain-HTTP side's base URL."""
        return f"http://127.0.0.1:{self.http_port}"

    def error_log(self) -> str:
        """What nginx has logged so far."""
        return (self.folder / "logs" / "error.log").read_text()


def _replace(text: str, old: str, new: str) -> str:
    # Every substitution must find its target: a changed file fails here, loudly.
    assert old in text, f"{old!r} is no longer in the committed nginx file"
    return text.replace(old, new)


def _configure(file_name: str, server: ZoneServer, pki: Pki, folder: Path) -> Proxy:
    https_port, http_port = free_port(), free_port()
    config = (CONFIGS / file_name).read_text()
    config = _replace(config, "listen 443 ", f"listen 127.0.0.1:{https_port} ")
    config = _replace(config, "listen 80 ", f"listen 127.0.0.1:{http_port} ")
    default = {"issuance.conf": 8001, "reservation.conf": 8002}[file_name]
    config = _replace(config, f"server 127.0.0.1:{default};", f"server 127.0.0.1:{server.port};")
    config = _replace(config, "/etc/madoguchi/tls/", f"{pki.folder}/")
    if "/var/log/nginx/" in config:
        config = config.replace("/var/log/nginx/", f"{folder}/logs/")
    for sub in ("logs", "temp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_text(config)
    temp = folder / "temp"
    # The http block around the file, as Debian's nginx.conf includes conf.d/*.conf, with
    # every path the test's own. As root, workers would run as nobody, who cannot enter
    # pytest's private folders.
    wrapper = f"""
daemon off;
worker_processes 2;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log info;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 256; }}
http {{
    access_log {folder}/logs/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {folder}/{file_name};
}}
"""
    (folder / "nginx.conf").write_text(wrapper)
    return Proxy(https_port, http_port, folder)


StartProxy = Callable[[str, ZoneServer], Proxy]


@pytest.fixture(scope="module")
def nginx_for(
    nginx_binary: Path, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartProxy]:
    """Start nginx with a committed file in front of a zone server; stopped after the module."""
    started: list[subprocess.Popen[bytes]] = []

    def start(file_name: str, server: ZoneServer) -> Proxy:
        folder = tmp_path_factory.mktemp(f"nginx-{Path(file_name).stem}")
        proxy = _configure(file_name, server, pki, folder)
        log = folder / "logs" / "error.log"
        command = [str(nginx_binary), "-p", str(folder), "-c", str(folder / "nginx.conf")]
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*command, "-e", str(log)], stdout=subprocess.DEVNULL, stderr=output
            )
        started.append(process)
        _wait_for([proxy.https_port, proxy.http_port], process, log, "nginx")
        return proxy

    yield start
    for process in started:
        stop(process)


async def _register_terminal(url: str, tables: CoreTables, fingerprint: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await TerminalService.for_zone(session, tables).create(
                {"name": TERMINAL_NAME, "fingerprint": fingerprint, "active": True}
            )
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def issuance_database(
    zone_database_urls: dict[Zone, str], pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The issuance test database with a member of staff and the registered terminal."""
    url = zone_database_urls[Zone.ISSUANCE]
    settings = make_settings(Zone.ISSUANCE, tmp_path_factory.mktemp("issuance-accounts"))
    # The zone's first account must be able to manage users (one always must).
    await create_staff_account(
        url,
        settings,
        ISSUANCE_TABLES,
        STAFF_LOGIN,
        ["users.manage", "residents.read", "residents.import"],
    )
    # Registered exactly as nginx will pass it: the app must take that form unchanged.
    fingerprint = canonical_fingerprint(pki.terminal_fingerprint)
    assert fingerprint == pki.terminal_fingerprint
    await _register_terminal(url, ISSUANCE_TABLES, fingerprint)
    yield url
    await truncate_all(url)


@pytest.fixture(scope="module")
async def reservation_database(zone_database_urls: dict[Zone, str], pki: Pki) -> AsyncIterator[str]:
    """The reservation test database with the same terminal registered (for forgery tests)."""
    url = zone_database_urls[Zone.RESERVATION]
    await _register_terminal(url, RESERVATION_TABLES, pki.terminal_fingerprint)
    yield url
    await truncate_all(url)


@pytest.fixture(scope="module")
def issuance_server(
    issuance_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZoneServer]:
    """The issuance zone as behind nginx in production, requiring registered terminals."""
    yield from _serve(
        Zone.ISSUANCE,
        issuance_database,
        tmp_path_factory.mktemp("issuance-server"),
        {
            "ISSUANCE_TRUSTED_PROXIES": "127.0.0.1/32",
            "ISSUANCE_CERTIFICATE_PROXIES": "127.0.0.1/32",
            "ISSUANCE_STAFF_NETWORKS": "127.0.0.1/32",
            "ISSUANCE_REQUIRE_REGISTERED_TERMINAL": "true",
        },
    )


@pytest.fixture(scope="module")
def reservation_server(
    reservation_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZoneServer]:
    """One reservation replica; its own login limit is off, so a 429 can only be nginx's.

    It believes fingerprints from loopback (as it would behind a proxy that checks terminal
    certificates), so that only reservation.conf stands between a client and the check.
    """
    yield from _serve(
        Zone.RESERVATION,
        reservation_database,
        tmp_path_factory.mktemp("reservation-server"),
        {
            "RESERVATION_TRUSTED_PROXIES": "127.0.0.1/32",
            "RESERVATION_CERTIFICATE_PROXIES": "127.0.0.1/32",
            "RESERVATION_STAFF_NETWORKS": "127.0.0.1/32",
            "RESERVATION_REQUIRE_REGISTERED_TERMINAL": "true",
            "RESERVATION_LOGIN_RATE_LIMIT": "0",
        },
    )


@pytest.fixture(scope="module")
def issuance_proxy(nginx_for: StartProxy, issuance_server: ZoneServer) -> Proxy:
    """deploy/nginx/issuance.conf in front of the issuance zone."""
    return nginx_for("issuance.conf", issuance_server)


@pytest.fixture(scope="module")
def reservation_proxy(nginx_for: StartProxy, reservation_server: ZoneServer) -> Proxy:
    """deploy/nginx/reservation.conf in front of one reservation replica."""
    return nginx_for("reservation.conf", reservation_server)
