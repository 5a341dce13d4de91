"""``madoguchi up``: both zones start, and stop together whichever way it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from api.core.settings import Zone
from tests.integration.test_serve import ROOT, _free_port


def _start(zone_database_urls: dict[Zone, str], tmp_path: Path) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "MADOGUCHI_VAR_DIR": str(tmp_path),
        "ISSUANCE_DATABASE_URL": zone_database_urls[Zone.ISSUANCE],
        "RESERVATION_DATABASE_URL": zone_database_urls[Zone.RESERVATION],
        "ISSUANCE_PORT": str(_free_port()),
        "RESERVATION_PORT": str(_free_port()),
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "up"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert up.stdout is not None
    deadline = time.monotonic() + 60
    for line in up.stdout:
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert up.poll() is None, "madoguchi up ended before both zones were ready"
    return up


@pytest.mark.slow
def test_up_stopped_with_sigterm_stops_both_zones(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    up = _start(zone_database_urls, tmp_path)
    servers = psutil.Process(up.pid).children()

    up.send_signal(signal.SIGTERM)

    assert up.wait(timeout=30) == 0
    assert len(servers) == 2
    assert not any(server.is_running() for server in servers)


@pytest.mark.slow
def test_up_stops_the_other_zone_when_one_server_ends(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    up = _start(zone_database_urls, tmp_path)
    first, second = psutil.Process(up.pid).children()

    first.kill()

    assert up.wait(timeout=30) == 1
    second.wait(timeout=5)
    assert not second.is_running()
