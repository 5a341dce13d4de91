"""The commands `make run` chains, run as a new machine would: migrate, seed twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.core.database import asyncpg_url
from api.core.settings import Zone
from tests.conftest import drop_database

ROOT = Path(__file__).resolve().parents[2]


def _madoguchi(environment: dict[str, str], *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("zone", "first", "second"),
    [
        (Zone.ISSUANCE, "issuance: 40 demo residents imported", "issuance: demo data present"),
        (Zone.RESERVATION, "demo slots created", "reservation: demo data present"),
    ],
    ids=str,
)
def test_migrate_then_seed_demo_seeds_once(
    zone: Zone, first: str, second: str, postgres_admin_url: str, tmp_path: Path
) -> None:
    name = f"madoguchi_make_run_{zone.value}_{os.getpid()}"
    environment = {
        **os.environ,
        f"{zone.value.upper()}_DATABASE_URL": asyncpg_url(postgres_admin_url, name).replace(
            "+asyncpg", ""
        ),
        "MADOGUCHI_VAR_DIR": str(tmp_path),
        "MADOGUCHI_DEMO_RESIDENTS": "40",
    }
    try:
        # The zone creates its database itself, as on a fresh server.
        upgraded = _madoguchi(environment, zone.value, "db", "upgrade")
        seeded = _madoguchi(environment, zone.value, "seed-demo")
        again = _madoguchi(environment, zone.value, "seed-demo")
    finally:
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(asyncio.run, drop_database(postgres_admin_url, name)).result()

    assert f"{zone.value}: database at head" in upgraded
    assert first in seeded
    assert second in again
    if zone is Zone.ISSUANCE:
        logins = (tmp_path / "demo" / "demo-logins.txt").read_text(encoding="utf-8")
        assert logins.count("password") == 3
