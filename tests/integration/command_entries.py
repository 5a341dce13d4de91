"""Helpers of the command-line tests: a zone's test database for commands, their log entries.

Commands call ``asyncio.run`` and commit; the tests invoke them through click's runner from
plain (synchronous) test functions, read what they wrote on a connection of their own, and
empty the tables afterwards (``truncate_all``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from api.core.settings import Zone, get_settings

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end on a loop of its own thread (a test's loop may be running)."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def use_zone_database(monkeypatch: pytest.MonkeyPatch, zone: Zone, url: str, var_dir: Path) -> None:
    """Point the zone's commands at ``url``, with their files under ``var_dir``."""
    monkeypatch.setenv(f"{zone.value.upper()}_DATABASE_URL", url.replace("+asyncpg", ""))
    monkeypatch.setenv("MADOGUCHI_VAR_DIR", str(var_dir))
    get_settings.cache_clear()


async def _fetch(url: str, query: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(query)
    finally:
        await connection.close()
    return [
        {
            key: json.loads(value) if key in ("resource_ids", "detail") else value
            for key, value in row.items()
        }
        for row in rows
    ]


def command_entries(url: str) -> list[dict[str, Any]]:
    """The access-log entries written by commands (method ``CLI``), oldest first."""
    return run_async(
        _fetch(
            url,
            "SELECT actor, actor_kind, terminal, client_address, method, route, outcome, "
            "resource_ids, detail, duration_ms FROM access_log WHERE method = 'CLI' "
            "ORDER BY sequence",
        )
    )


def fetch(url: str, query: str) -> list[dict[str, Any]]:
    """The rows of a query, on a connection of its own."""
    return run_async(_fetch(url, query))


def entry_text(entry: dict[str, Any]) -> str:
    """Everything an entry says, as one text: to check that no personal data is in it."""
    return json.dumps(entry, ensure_ascii=False, default=str)
