from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from api.core.settings import Zone

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _first_answer(
    url: str, server: subprocess.Popen[bytes], log: Path, *, seconds: float
) -> int | None:
    # The status of the first answer at ``url``; None if the server gave none in time.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return _get(url)[0]
        except OSError:
            assert server.poll() is None, log.read_text()
            time.sleep(0.2)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
def test_serve_command_boots_the_zone_and_logs_json_lines(
    zone: Zone, zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    port = _free_port()
    environment = {
        **os.environ,
        f"{zone.value.upper()}_DATABASE_URL": zone_database_urls[zone],
        "MADOGUCHI_VAR_DIR": str(tmp_path),
        "MADOGUCHI_LOG_FORMAT": "json",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", zone.value, "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            status = _first_answer(f"{base}/healthz", server, log, seconds=30)
            ready_status, ready = _get(f"{base}/readyz")
            docs_status, _ = _get(f"{base}/api/docs/openapi.json")
        finally:
            server.terminate()
            server.wait(timeout=20)

    assert status == 200
    assert (ready_status, ready["database"]) == (200, "ok")
    assert docs_status == 401  # the staff API's description is behind a staff login
    request_lines = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and '"event": "request"' in line
    ]
    assert [line["path"] for line in request_lines][:2] == ["/healthz", "/readyz"]
    assert all(len(str(line["request_id"])) == 32 for line in request_lines)


def test_bad_setting_stops_serve_naming_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "issuance", "serve"],
        cwd=ROOT,
        env={**os.environ, "ISSUANCE_PORT": "not-a-port", "MADOGUCHI_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "ISSUANCE_PORT" in result.stderr


@pytest.mark.slow
def test_serve_stopped_with_sigterm_stops_its_embedded_postgresql(tmp_path: Path) -> None:
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"RESERVATION_DATABASE_URL", "TEST_DATABASE_URL"}
    }
    environment["MADOGUCHI_VAR_DIR"] = str(tmp_path)  # embedded server under tmp_path/pg
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "reservation", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            status = _first_answer(f"http://127.0.0.1:{port}/readyz", server, log, seconds=60)
            running = (tmp_path / "pg" / "reservation" / "postmaster.pid").exists()
        finally:
            server.terminate()  # SIGTERM, as `madoguchi up` and systemd stop it
            server.wait(timeout=30)

    assert status == 200
    assert running
    # The postmaster removes its pid file when it has stopped.
    assert not (tmp_path / "pg" / "reservation" / "postmaster.pid").exists(), log.read_text()
