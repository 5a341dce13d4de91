"""The chain as the database builds it: hashes, append-only rule, tampering, concurrency."""

from __future__ import annotations

import asyncio
import itertools
import json
import os

import asyncpg
import pytest

from api.core.audit.chain import CHAINED_FIELDS, GENESIS_HASH, compute_hash
from api.core.audit.recorder import AccessLogWriter
from api.core.audit.service import verify_database
from api.core.database import TRUNCATE_ON_PURPOSE
from tests.integration.audit.conftest import AuditDatabase, sample_row


async def test_the_database_and_python_compute_the_same_hash(audit_database: AuditDatabase) -> None:
    await audit_database.append(12)
    rows = await audit_database.fetch("SELECT * FROM access_log ORDER BY sequence")

    assert rows[0]["previous_hash"] == GENESIS_HASH
    for before, row in itertools.pairwise(rows):
        assert row["previous_hash"] == before["entry_hash"]
    for row in rows:
        values = dict(row)
        values["resource_ids"] = json.loads(values["resource_ids"])
        values["detail"] = json.loads(values["detail"])
        assert compute_hash(values) == row["entry_hash"]
    report = await verify_database(audit_database.engine, audit_database.model)
    assert report.ok
    assert report.entries == 12


async def test_hashes_passed_by_the_caller_are_ignored(audit_database: AuditDatabase) -> None:
    row = sample_row(
        audit_database.zone,
        1,
    )
    row.update(previous_hash="f" * 64, entry_hash="e" * 64)
    await AccessLogWriter(audit_database.engine, audit_database.model).write_now([row])
    stored = await audit_database.fetch("SELECT previous_hash, entry_hash FROM access_log")

    assert stored[0]["previous_hash"] == GENESIS_HASH
    assert stored[0]["entry_hash"] != "e" * 64


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_log SET outcome = 'success' WHERE sequence = 2",
        "UPDATE access_log SET previous_hash = entry_hash",
        "DELETE FROM access_log WHERE sequence = 2",
        "DELETE FROM access_log",
    ],
)
async def test_update_and_delete_are_refused(audit_database: AuditDatabase, statement: str) -> None:
    await audit_database.append(3)
    connection = await asyncpg.connect(audit_database.dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await connection.execute(statement)
        # Setting the prune flag by hand outside the prune function allows only old rows...
    finally:
        await connection.close()
    assert len(await audit_database.fetch("SELECT 1 FROM access_log")) == 3


async def test_truncate_is_refused_unless_the_transaction_means_it(
    audit_database: AuditDatabase,
) -> None:
    await audit_database.append(3)
    connection = await asyncpg.connect(audit_database.dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="TRUNCATE refused"):
            await connection.execute("TRUNCATE access_log")
        assert len(await audit_database.fetch("SELECT 1 FROM access_log")) == 3
        # The setting holds for its own transaction only.
        async with connection.transaction():
            await connection.execute(TRUNCATE_ON_PURPOSE)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="TRUNCATE refused"):
            await connection.execute("TRUNCATE access_log")

        await connection.execute(f"{TRUNCATE_ON_PURPOSE}; TRUNCATE access_log")
    finally:
        await connection.close()
    assert await audit_database.fetch("SELECT 1 FROM access_log") == []


async def test_rows_that_are_not_strings_are_refused(audit_database: AuditDatabase) -> None:
    connection = await asyncpg.connect(audit_database.dsn)
    try:
        with pytest.raises(asyncpg.RaiseError, match="detail must be an object of strings"):
            await connection.execute(
                "INSERT INTO access_log (occurred_at, zone, actor_kind, method, route, "
                "resource_ids, outcome, detail) VALUES (now(), 'x', 'staff', 'GET', '/', "
                "'[]', 'success', '{\"n\": 1}')"
            )
    finally:
        await connection.close()


async def test_verify_names_an_edited_entry(audit_database: AuditDatabase) -> None:
    await audit_database.append(10)
    await audit_database.tamper("UPDATE access_log SET actor = 'someone-else' WHERE sequence = 6")

    report = await verify_database(audit_database.engine, audit_database.model)

    assert report.first_break is not None
    assert report.first_break.sequence == 6
    assert "changed" in report.first_break.reason
    assert report.entries == 5


async def test_verify_names_the_entry_after_a_deleted_one(audit_database: AuditDatabase) -> None:
    await audit_database.append(10)
    await audit_database.tamper("DELETE FROM access_log WHERE sequence = 4")

    report = await verify_database(audit_database.engine, audit_database.model)

    assert report.first_break is not None
    assert report.first_break.sequence == 5
    assert "removed" in report.first_break.reason


async def test_verify_names_the_first_of_reordered_entries(audit_database: AuditDatabase) -> None:
    await audit_database.append(10)
    # Swap entries 3 and 7 wholesale (their hashes travel with them).
    columns = ", ".join((*CHAINED_FIELDS[1:], "entry_hash"))
    await audit_database.tamper(
        f"CREATE TEMP TABLE swapped ON COMMIT DROP AS "
        f"SELECT * FROM access_log WHERE sequence IN (3, 7); "
        f"DELETE FROM access_log WHERE sequence IN (3, 7); "
        f"INSERT INTO access_log (sequence, {columns}) OVERRIDING SYSTEM VALUE "
        f"SELECT CASE sequence WHEN 3 THEN 7 ELSE 3 END, {columns} FROM swapped"
    )

    report = await verify_database(audit_database.engine, audit_database.model)

    assert report.first_break is not None
    assert report.first_break.sequence == 3


async def test_verify_names_the_first_entry_when_the_oldest_are_removed(
    audit_database: AuditDatabase,
) -> None:
    await audit_database.append(6)
    await audit_database.tamper("DELETE FROM access_log WHERE sequence <= 2")

    report = await verify_database(audit_database.engine, audit_database.model)

    assert report.first_break is not None
    assert report.first_break.sequence == 3


async def test_concurrent_appends_from_many_connections_keep_one_chain(
    audit_database: AuditDatabase,
) -> None:
    connections = [await asyncpg.connect(audit_database.dsn) for _ in range(8)]
    insert = (
        "INSERT INTO access_log (occurred_at, zone, actor, actor_kind, method, route, "
        "resource_ids, outcome, detail) "
        "VALUES (now(), $1, $2, 'staff', 'GET', '/x', '[]', 'success', '{}')"
    )

    async def writer(index: int, connection: asyncpg.Connection) -> None:
        for round_ in range(25):
            if round_ % 5 == 0:
                # Multi-row transactions interleave with single-row ones.
                async with connection.transaction():
                    for part in range(3):
                        await connection.execute(insert, "issuance", f"w{index}-{round_}-{part}")
            else:
                await connection.execute(insert, "issuance", f"w{index}-{round_}")

    try:
        await asyncio.gather(*(writer(i, c) for i, c in enumerate(connections)))
    finally:
        for connection in connections:
            await connection.close()

    rows = await audit_database.fetch("SELECT count(DISTINCT previous_hash) AS n FROM access_log")
    report = await verify_database(audit_database.engine, audit_database.model)
    assert report.ok, report.first_break
    assert report.entries == 8 * (20 + 5 * 3)
    assert rows[0]["n"] == report.entries


async def test_only_the_owner_may_run_the_prune_function(audit_database: AuditDatabase) -> None:
    await audit_database.append(2)
    reader = f"madoguchi_test_reader_{os.getpid()}"
    connection = await asyncpg.connect(audit_database.dsn)
    try:
        await connection.execute(f"DROP ROLE IF EXISTS {reader}; CREATE ROLE {reader}")
        await connection.execute(f"GRANT SELECT ON access_log TO {reader}")
        try:
            async with connection.transaction():
                await connection.execute(f"SET LOCAL ROLE {reader}")
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="access_log_prune"):
                    await connection.execute(
                        "SELECT access_log_prune(1, 'x', 'a', 'b', 'issuance', 'reader')"
                    )
        finally:
            await connection.execute(f"DROP OWNED BY {reader}; DROP ROLE {reader}")
    finally:
        await connection.close()
    assert len(await audit_database.fetch("SELECT 1 FROM access_log")) == 2
