"""``madoguchi up``: start both zones side by side for a demo or a developer's machine."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click

from api.core.settings import Zone, ZoneSettings
from api.core.zone_cli import exit_on_signal

READY_TIMEOUT_SECONDS = 60.0


def zone_url(settings: ZoneSettings) -> str:
    """The base URL a zone serves on."""
    return f"http://{settings.host}:{settings.port}"


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:  # noqa: S310 - our own http URL
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def run_both_zones(settings: dict[Zone, ZoneSettings], demo_logins: Path) -> int:
    """Start both zones' servers, print where they are and the demo logins, wait for Ctrl-C.

    Ctrl-C or a SIGTERM, at any moment, stops both servers (and through them their
    embedded PostgreSQL); so does one server ending on its own, with exit status 1.
    """
    # A handler, not a blocked signal: children get the default action back at exec.
    signal.signal(signal.SIGTERM, exit_on_signal)
    processes: dict[Zone, subprocess.Popen[bytes]] = {}
    try:
        for zone in Zone:
            command = [sys.executable, "-m", "api.cli", zone.value, "serve"]
            processes[zone] = subprocess.Popen(command)  # noqa: S603 - our own command
        for zone, process in processes.items():
            if not _wait_until_ready(zone_url(settings[zone]), process):
                click.echo(f"madoguchi: the {zone.value} zone did not become ready", err=True)
                return 1
        click.echo("\nMadoguchi is running:")
        for zone in Zone:
            url = zone_url(settings[zone])
            click.echo(f"  {zone.value:<12} {url}  (API docs, staff login: {url}/api/docs)")
        click.echo(f"  booking site {zone_url(settings[Zone.RESERVATION])}/  (for residents)")
        click.echo(f"  console      {zone_url(settings[Zone.ISSUANCE])}/console/  (counter staff)")
        if demo_logins.is_file():
            click.echo("\nDemo logins:")
            click.echo(demo_logins.read_text(encoding="utf-8"))
        click.echo("Press Ctrl-C to stop both zones.")
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        click.echo("madoguchi: a zone's server stopped; stopping the other", err=True)
        return 1
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=30)
