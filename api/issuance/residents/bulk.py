"""Bulk loading of residents: its secondary indexes dropped and rebuilt, and a first import.

Building an index once from sorted input is far cheaper than 1,000,000 random insertions
into it, so a large load drops residents' secondary indexes and unique constraints and
rebuilds them from their catalog definitions afterwards, in the same transaction. The
rebuild re-checks uniqueness, so all-or-nothing still holds. Dropping them needs an ACCESS
EXCLUSIVE lock on residents until commit (searches wait for the import); when the lock is
not free within ``BULK_LOCK_TIMEOUT`` the import loads with the indexes in place.

The first import of a city's list (residents empty) goes further, see ``load_first_import``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import asyncpg
import msgspec

from api.issuance.residents.loading import STAGED_COLUMNS, CardListLoader, ParseSummary
from sync_format.csv import CardListProfile
from sync_format.csv.source import Source

Recorded = TypeVar("Recorded")
logger = logging.getLogger("api.issuance.residents.importing")
BULK_LOCK_TIMEOUT: Final = "5s"
_SAVEPOINT: Final = "card_import_first_load"
# The audit columns a card list does not carry; COPY takes them from a default.
_STAMPED: Final = ("created_at", "updated_at")

# Every index of residents except the primary key, with the constraint it backs (if any);
# indexes that a foreign key relies on are kept.
_SECONDARY_INDEXES = """
SELECT ci.relname AS index_name, pg_get_indexdef(i.indexrelid) AS index_definition,
    c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_definition
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
    AND c.contype IN ('u', 'p', 'x')
WHERE i.indrelid = 'residents'::regclass AND NOT i.indisprimary
    AND NOT EXISTS (
        SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid
    )
ORDER BY ci.relname
"""
_COLUMN_DEFAULTS = """
SELECT a.attname AS column_name, pg_get_expr(d.adbin, d.adrelid) AS expression
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'residents'::regclass AND a.attname = ANY($1::text[])
"""


class StepTimer:
    """Logs how long each step of an import takes (DEBUG), to see where time goes."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def step(self, name: str) -> None:
        """Log the time since the previous step under ``name``."""
        now = time.perf_counter()
        logger.debug("card import: %s took %.2f s", name, now - self.started)
        self.started = now


async def set_local(driver: Any, name: str, value: str) -> str:
    """Set a setting for the rest of the transaction; return its previous value."""
    previous: str = await driver.fetchval("SELECT current_setting($1)", name)
    await driver.execute("SELECT set_config($1, $2, true)", name, value)
    return previous


async def lock_residents(driver: Any, savepoint: str = "card_import_bulk") -> bool:
    """Take residents exclusively (to drop its indexes); False if busy past the timeout."""
    await driver.execute(f"SAVEPOINT {savepoint}")
    try:
        previous = await set_local(driver, "lock_timeout", BULK_LOCK_TIMEOUT)
        await driver.execute("LOCK TABLE residents IN ACCESS EXCLUSIVE MODE")
    except asyncpg.LockNotAvailableError:
        await driver.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        await driver.execute(f"RELEASE SAVEPOINT {savepoint}")
        logger.info("card import: residents busy; loading with its indexes in place")
        return False
    await driver.execute("SELECT set_config('lock_timeout', $1, true)", previous)
    await driver.execute(f"RELEASE SAVEPOINT {savepoint}")
    return True


async def drop_secondary_indexes(driver: Any) -> list[Any]:
    """Drop residents' indexes but the primary key; return what recreates them."""
    indexes = await driver.fetch(_SECONDARY_INDEXES)
    for index in indexes:
        if index["constraint_name"]:
            await driver.execute(
                f'ALTER TABLE residents DROP CONSTRAINT "{index["constraint_name"]}"'
            )
        else:
            await driver.execute(f'DROP INDEX "{index["index_name"]}"')
    return list(indexes)


async def recreate_indexes(driver: Any, indexes: list[Any]) -> None:
    """Rebuild the dropped indexes from their catalog definitions (names unchanged)."""
    for index in indexes:
        if index["constraint_name"]:
            await driver.execute(
                f'ALTER TABLE residents ADD CONSTRAINT "{index["constraint_name"]}" '
                f"{index['constraint_definition']}"
            )
        else:
            await driver.execute(index["index_definition"])


class FirstLoad(msgspec.Struct, kw_only=True):
    """What a first import put into residents: every row new."""

    rows: int
    gaiji: int
    summary: ParseSummary


async def _stamp_defaults(driver: Any) -> list[Any]:
    """Let COPY fill created_at/updated_at with now(); return the defaults to restore."""
    previous = await driver.fetch(_COLUMN_DEFAULTS, list(_STAMPED))
    await driver.execute(
        "ALTER TABLE residents "
        + ", ".join(f"ALTER COLUMN {column} SET DEFAULT now()" for column in _STAMPED)
    )
    return list(previous)


async def _restore_defaults(driver: Any, previous: list[Any]) -> None:
    changes = [
        f"ALTER COLUMN {row['column_name']} SET DEFAULT {row['expression']}"
        if row["expression"]
        else f"ALTER COLUMN {row['column_name']} DROP DEFAULT"
        for row in previous
    ]
    await driver.execute("ALTER TABLE residents " + ", ".join(changes))


async def load_first_import(
    driver: Any,
    source: Source,
    profile: CardListProfile,
    *,
    workers: int,
    record: Callable[[FirstLoad], Awaitable[Recorded]],
) -> Recorded | None:
    """Copy a card list straight into an empty residents table; None when it cannot.

    When residents is empty every row of a good file is new, so the staging table, the
    comparison and the INSERT ... SELECT of the usual path buy nothing. The parsed rows go
    straight into residents with its secondary indexes dropped; rebuilding the unique
    indexes checks that no reservation or application ID is there twice. Whenever this
    path cannot give the usual path's answer (residents busy or not empty, a bad row, an
    ID twice) it rolls back to its savepoint and returns None: the caller then imports
    through staging, which names every problem with its line. Runs in the caller's
    transaction, which must hold the import lock. ``record`` writes the import's record
    inside the same subtransaction as the rows, so that both carry the same ``xmin`` (the
    same-file check compares them); its result is returned.
    """
    timer = StepTimer()
    if not await lock_residents(driver, _SAVEPOINT):
        return None
    await driver.execute(f"SAVEPOINT {_SAVEPOINT}")
    if await driver.fetchval("SELECT EXISTS (SELECT FROM residents)"):
        await _give_up(driver, "residents is not empty")
        return None
    dropped = await drop_secondary_indexes(driver)
    defaults = await _stamp_defaults(driver)
    loader = CardListLoader(source, profile, workers=workers, line_numbers=False)
    status = await driver.copy_to_table(
        "residents", source=loader.batches(), columns=list(STAGED_COLUMNS[1:]), format="text"
    )
    timer.step("parse and COPY into residents")
    if loader.summary.problems:
        await _give_up(driver, f"{len(loader.summary.problems)} bad row(s)")
        return None
    await _restore_defaults(driver, defaults)
    try:
        await recreate_indexes(driver, dropped)
    except asyncpg.UniqueViolationError:
        await _give_up(driver, "an ID is there twice")
        return None
    timer.step(f"rebuild {len(dropped)} indexes")
    # Statistics for the searches and the next import's comparison right after the load.
    await driver.execute("ANALYZE residents")
    timer.step("analyze")
    gaiji = await driver.fetchval("SELECT count(*) FROM residents WHERE has_gaiji")
    loaded = FirstLoad(rows=int(status.split()[-1]), gaiji=gaiji, summary=loader.summary)
    recorded = await record(loaded)
    await driver.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return recorded


async def _give_up(driver: Any, reason: str) -> None:
    """Undo everything since the savepoint: the caller takes the staging path."""
    await driver.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
    await driver.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    logger.info("card import: loading through staging (%s)", reason)
