from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

from api.core.database import (
    EMBEDDED_SETTINGS,
    EMBEDDED_SETTINGS_FILE,
    resolve_database_url,
    write_embedded_settings,
)
from api.core.settings import Zone
from tests.support import make_settings


async def _database_and_version(url: str) -> tuple[str, str]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        row = await connection.fetchrow("SELECT current_database(), version()")
    finally:
        await connection.close()
    return row[0], row[1]


def test_no_database_url_starts_an_embedded_server_that_keeps_its_data(tmp_path: Path) -> None:
    settings = make_settings(Zone.ISSUANCE, tmp_path)

    def start_and_connect() -> tuple[str, tuple[str, str]]:
        url = resolve_database_url(settings)
        return url, asyncio.run(_database_and_version(url))

    with ThreadPoolExecutor(max_workers=1) as executor:
        url, (database, version) = executor.submit(start_and_connect).result()

    assert database == "madoguchi_issuance"
    assert version.startswith("PostgreSQL")
    assert (tmp_path / "pg" / "issuance" / "PG_VERSION").is_file()
    assert str(tmp_path / "pg" / "issuance") in url or "host=" in url


def test_configured_database_url_is_used_as_given(tmp_path: Path) -> None:
    settings = make_settings(
        Zone.RESERVATION,
        tmp_path,
        RESERVATION_DATABASE_URL="postgresql://someone:secret@db.example:5433/bookings",
    )

    url = resolve_database_url(settings)

    assert url == "postgresql+asyncpg://someone:secret@db.example:5433/bookings"
    assert not (tmp_path / "pg").exists()


async def _settings(url: str, names: list[str]) -> dict[str, str]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name", names
        )
    finally:
        await connection.close()
    return {row["name"]: row["value"] for row in rows}


def test_embedded_server_runs_with_madoguchi_settings_from_its_first_start(
    tmp_path: Path,
) -> None:
    settings = make_settings(Zone.ISSUANCE, tmp_path)
    names = list(EMBEDDED_SETTINGS)

    def start_and_read() -> dict[str, str]:
        url = resolve_database_url(settings)
        return asyncio.run(_settings(url, names))

    with ThreadPoolExecutor(max_workers=1) as executor:
        found = executor.submit(start_and_read).result()

    assert found == EMBEDDED_SETTINGS
    data_dir = tmp_path / "pg" / "issuance"
    assert not write_embedded_settings(data_dir)  # idempotent: nothing left to change
    assert (data_dir / "postgresql.conf").read_text().count(EMBEDDED_SETTINGS_FILE) == 1
