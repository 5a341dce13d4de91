"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from api.core.settings import Zone, ZoneSettings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def make_settings(zone: Zone, tmp_path: Path, **overrides: str) -> ZoneSettings:
    """Settings as a zone would read them, with test-friendly logging and a private var dir."""
    environment = {"MADOGUCHI_VAR_DIR": str(tmp_path), "MADOGUCHI_LOG_FORMAT": "console"}
    environment.update(overrides)
    return load_settings(zone, environment)


def missing_tool(message: str) -> NoReturn:
    """Skip a test that needs a tool this machine lacks; with ``CI=true``, fail instead.

    CI installs every tool (.ci/run), so there a missing one is a broken set-up, not a skip.
    """
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI=true, so this is a failure", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a server process: SIGTERM (its exit hooks run), then kill if it hangs."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def served_zone(
    zone: Zone, port: int, environment: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``madoguchi <zone> serve`` on 127.0.0.1:port, answering /healthz, until the block ends.

    Its output goes to ``log``, which a failed start quotes.
    """
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("madoguchi")),
                zone.value,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=dict(environment),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(
                        f"madoguchi {zone.value} serve did not start:\n{log.read_text()}",
                        pytrace=False,
                    )
                time.sleep(0.2)
        yield process
    finally:
        stop(process)
