"""Applying a compared card list: history of changed rows, updates, then inserts.

Runs after the comparison (``importing``) has left the new and changed rows in
``DIFF_TABLE``: earlier values of changed rows go to ``resident_history`` first, then the
changed rows are updated in place and the new ones inserted. A large share of new rows
drops and rebuilds residents' secondary indexes around the insert (``bulk``).
"""

from __future__ import annotations

from typing import Any, Final

from api.issuance.residents.bulk import (
    StepTimer,
    drop_secondary_indexes,
    lock_residents,
    recreate_indexes,
)
from api.issuance.residents.models import CardImport
from api.issuance.residents.whole_file import CARD_COLUMNS, DIFF_TABLE, STAGING_TABLE

# Bulk path: drop and rebuild residents' secondary indexes when the new rows are at least
# this many and at least this share of the rows already there.
BULK_MINIMUM_ROWS: Final = 50_000
BULK_MINIMUM_SHARE: Final = 0.2
_COLUMN_LIST = ", ".join(CARD_COLUMNS)


def _json_object(alias: str) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in CARD_COLUMNS) + ")"


# Earlier values of every changed row, before the upsert overwrites them.
_HISTORY = f"""
INSERT INTO resident_history
    (resident_id, card_import_id, file_sha256, changed_by, changed_fields, previous,
     created_at, updated_at)
SELECT r.id, $1, $2, $3,
    ARRAY(
        SELECT old.key FROM jsonb_each(o.doc) AS old
        WHERE old.value IS DISTINCT FROM n.doc -> old.key ORDER BY old.key
    ),
    o.doc, now(), now()
FROM {DIFF_TABLE} d JOIN residents r ON r.id = d.resident_id
CROSS JOIN LATERAL (SELECT {_json_object("r")} AS doc) o
CROSS JOIN LATERAL (SELECT {_json_object("d")} AS doc) n
"""  # noqa: S608
# New rows in reservation_id order (the unique index then grows at its end), then changed
# rows updated in place; no ON CONFLICT, since the diff already knows which is which.
_INSERT_NEW = f"""
INSERT INTO residents ({_COLUMN_LIST}, created_at, updated_at)
SELECT {_COLUMN_LIST}, now(), now() FROM {DIFF_TABLE}
WHERE resident_id IS NULL
ORDER BY reservation_id
"""  # noqa: S608
# With the indexes dropped (bulk path) the order no longer matters: no sort.
_INSERT_NEW_UNORDERED = _INSERT_NEW.replace("ORDER BY reservation_id", "")
_INSERT_ALL_STAGED = _INSERT_NEW.replace(DIFF_TABLE, STAGING_TABLE).replace(
    "WHERE resident_id IS NULL", ""
)
# By (residents was empty, indexes dropped): with the indexes dropped, order is no use.
_INSERTS: Final = {
    (False, False): _INSERT_NEW,
    (False, True): _INSERT_NEW_UNORDERED,
    (True, False): _INSERT_ALL_STAGED,
    (True, True): _INSERT_ALL_STAGED.replace("ORDER BY reservation_id", ""),
}
_UPDATE_CHANGED = f"""
UPDATE residents r SET
    {", ".join(f"{column} = d.{column}" for column in CARD_COLUMNS[1:])},
    updated_at = now()
FROM {DIFF_TABLE} d
WHERE d.resident_id = r.id
"""  # noqa: S608


async def apply_changes(
    driver: Any, record: CardImport, sha256: str, staff: str | None, *, all_new: bool
) -> None:
    """History of changed rows, then update them and insert the new ones (see module doc).

    ``all_new``: residents was empty, the new rows are the staging table itself.
    """
    timer = StepTimer()
    await driver.execute(_HISTORY, record.id, sha256, staff)
    timer.step("history")
    existing = await driver.fetchval(
        "SELECT reltuples::bigint FROM pg_class WHERE oid = 'residents'::regclass"
    )
    bulk = record.new >= BULK_MINIMUM_ROWS and record.new >= BULK_MINIMUM_SHARE * max(existing, 0)
    dropped: list[Any] = []
    if bulk and await lock_residents(driver):
        dropped = await drop_secondary_indexes(driver)
        timer.step(f"drop {len(dropped)} indexes")
    await driver.execute(_UPDATE_CHANGED)
    timer.step("update")
    await driver.execute(_INSERTS[all_new, bool(dropped)])
    timer.step("insert")
    if dropped:
        await recreate_indexes(driver, dropped)
        timer.step(f"rebuild {len(dropped)} indexes")
        # Statistics for the queries right after a large load (the next comparison).
        await driver.execute("ANALYZE residents")
        timer.step("analyze")
