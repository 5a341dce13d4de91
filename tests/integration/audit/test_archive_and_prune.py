"""Archive-and-prune: the archive verifies alone, and the rest verifies from the checkpoint."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from api.core.audit.archive import (
    ArchiveError,
    PruneResult,
    archive_and_prune,
    file_sha256,
    prune_cutoff,
    read_archive,
    verify_archive,
)
from api.core.audit.chain import GENESIS_HASH, PRUNED_OUTCOME
from api.core.audit.service import verify_database
from tests.integration.audit.conftest import AuditDatabase, days_ago


async def _prune(database: AuditDatabase, folder: Path, days: int = 30) -> PruneResult:
    return await archive_and_prune(
        database.engine,
        database.model,
        zone=database.zone.value,
        cutoff=prune_cutoff(days),
        folder=folder,
        actor="auditor",
    )


async def test_archive_and_prune_leaves_a_chain_that_verifies_from_the_checkpoint(
    audit_database: AuditDatabase, tmp_path: Path
) -> None:
    await audit_database.append(7, occurred_at=days_ago(100))
    await audit_database.append(3, occurred_at=days_ago(1))

    result = await _prune(audit_database, tmp_path)

    assert result.entries == 7
    assert result.through_sequence == 7
    assert result.archive is not None
    header, archived = verify_archive(result.archive)
    assert archived.ok
    assert archived.entries == 7
    assert header.anchor_hash == GENESIS_HASH
    assert result.archive_sha256 == file_sha256(result.archive)
    remaining = await audit_database.fetch("SELECT sequence, outcome, detail FROM access_log")
    assert [row["sequence"] for row in remaining] == [8, 9, 10, 11]
    checkpoint = remaining[-1]
    assert checkpoint["outcome"] == PRUNED_OUTCOME
    assert header.through_hash in checkpoint["detail"]
    live = await verify_database(audit_database.engine, audit_database.model)
    assert live.ok, live.first_break
    assert live.anchor_hash == header.through_hash
    assert live.entries == 4


async def test_a_second_prune_chains_on_from_the_first(
    audit_database: AuditDatabase, tmp_path: Path
) -> None:
    await audit_database.append(4, occurred_at=days_ago(100))
    first = await _prune(audit_database, tmp_path)
    await audit_database.append(2, occurred_at=days_ago(1))

    # Everything older than "now" goes, the first checkpoint included.
    second = await _prune(audit_database, tmp_path, days=0)

    assert first.archive is not None
    assert second.archive is not None
    first_header, _ = read_archive(first.archive)
    second_header, second_report = verify_archive(second.archive)
    assert second_report.ok
    assert second_header.anchor_hash == first_header.through_hash
    live = await verify_database(audit_database.engine, audit_database.model)
    assert live.ok
    assert live.anchor_hash == second_header.through_hash


async def test_nothing_old_enough_prunes_nothing(
    audit_database: AuditDatabase, tmp_path: Path
) -> None:
    await audit_database.append(3, occurred_at=days_ago(1))

    result = await _prune(audit_database, tmp_path)

    assert result.archive is None
    assert len(await audit_database.fetch("SELECT 1 FROM access_log")) == 3


async def test_a_broken_chain_is_not_pruned(audit_database: AuditDatabase, tmp_path: Path) -> None:
    await audit_database.append(5, occurred_at=days_ago(100))
    await audit_database.tamper("UPDATE access_log SET status = 500 WHERE sequence = 2")

    with pytest.raises(ArchiveError, match="entry 2"):
        await _prune(audit_database, tmp_path)

    assert len(await audit_database.fetch("SELECT 1 FROM access_log")) == 5
    assert not any(tmp_path.glob("*"))  # noqa: ASYNC240 - a test's own temporary folder


async def test_an_edited_archive_file_is_found(
    audit_database: AuditDatabase, tmp_path: Path
) -> None:
    await audit_database.append(5, occurred_at=days_ago(100))
    result = await _prune(audit_database, tmp_path)
    assert result.archive is not None
    lines = result.archive.read_text().splitlines()
    lines[3] = lines[3].replace('"status":200', '"status":404')
    result.archive.write_text("\n".join(lines) + "\n")

    _, report = verify_archive(result.archive)

    assert report.first_break is not None
    assert report.first_break.sequence == 3


async def test_the_prune_function_refuses_a_hash_that_was_not_archived(
    audit_database: AuditDatabase,
) -> None:
    await audit_database.append(3, occurred_at=days_ago(100))
    connection = await asyncpg.connect(audit_database.dsn)
    try:
        with pytest.raises(asyncpg.RaiseError, match="does not carry the archived hash"):
            await connection.execute(
                "SELECT access_log_prune(2, $1, 'a', 'b', 'issuance', 'x')", "0" * 64
            )
    finally:
        await connection.close()
    assert len(await audit_database.fetch("SELECT 1 FROM access_log")) == 3
