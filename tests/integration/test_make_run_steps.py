"""The commands `make run` chains, run as on a new machine: migrate both zones, seed twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
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
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(query)]
    finally:
        await connection.close()


async def _count(url: str, query: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


@pytest.mark.slow
def test_migrate_then_demo_seed_makes_a_working_demo_once(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    names = {zone: f"madoguchi_make_run_{zone.value}_{os.getpid()}" for zone in Zone}
    urls = {
        zone: asyncpg_url(postgres_admin_url, names[zone]).replace("+asyncpg", "") for zone in Zone
    }
    environment = {
        **os.environ,
        "ISSUANCE_DATABASE_URL": urls[Zone.ISSUANCE],
        "RESERVATION_DATABASE_URL": urls[Zone.RESERVATION],
        "MADOGUCHI_VAR_DIR": str(tmp_path),
        "MADOGUCHI_DEMO_RESIDENTS": "40",
        "MADOGUCHI_LOG_LEVEL": "WARNING",
    }
    try:
        # Each zone creates its database itself, as on a fresh server.
        upgraded = [_madoguchi(environment, zone.value, "db", "upgrade") for zone in Zone]
        seeded = _madoguchi(environment, "demo", "seed")
        again = _madoguchi(environment, "demo", "seed")
        eligible = asyncio.run(_count(urls[Zone.RESERVATION], "SELECT count(*) FROM eligibilities"))
        slots = asyncio.run(_count(urls[Zone.RESERVATION], "SELECT count(*) FROM slots"))
        bookable = asyncio.run(
            _rows(urls[Zone.RESERVATION], "SELECT code, name FROM locations ORDER BY code")
        )
        on_letters = asyncio.run(
            _rows(
                urls[Zone.ISSUANCE],
                "SELECT code, name FROM counter_locations WHERE active ORDER BY code",
            )
        )
    finally:
        with ThreadPoolExecutor(max_workers=1) as executor:
            for name in names.values():
                executor.submit(asyncio.run, drop_database(postgres_admin_url, name)).result()

    assert [
        f"{zone.value}: database at head" in text for zone, text in zip(Zone, upgraded, strict=True)
    ] == [True, True]
    assert "issuance: 40 demo residents imported" in seeded
    assert "demo data present" in again
    # Every tenth card is not set up yet: 36 of 40 may book.
    assert eligible == 36
    assert slots > 0
    # Letters list the places residents can book, by the same codes and names.
    assert on_letters == bookable
    assert len(on_letters) == 2
    logins = (tmp_path / "demo" / "demo-logins.txt").read_text(encoding="utf-8")
    assert logins.count("staff  login") == 4
    assert logins.count("resident  ID") == 3
    assert oct((tmp_path / "demo" / "demo-logins.txt").stat().st_mode & 0o777) == "0o600"
