"""``madoguchi <zone> audit``: verify, export, archive-and-prune on the test databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner, Result

from api.core.audit.cli import audit_commands
from api.core.settings import get_settings
from tests.integration.audit.conftest import AuditDatabase, days_ago


async def invoke(runner: CliRunner, *arguments: object) -> Result:
    # The commands call asyncio.run(); the test's own loop runs in this thread.
    return await asyncio.to_thread(runner.invoke, *arguments)


@pytest.fixture
def runner(
    audit_database: AuditDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    prefix = audit_database.zone.value.upper()
    monkeypatch.setenv(f"{prefix}_DATABASE_URL", audit_database.url)
    monkeypatch.setenv("MADOGUCHI_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def test_verify_exits_zero_on_an_intact_chain_and_one_naming_a_bad_entry(
    audit_database: AuditDatabase, runner: CliRunner
) -> None:
    await audit_database.append(4)
    group = audit_commands(audit_database.zone)

    intact = await invoke(runner, group, ["verify"])
    await audit_database.tamper("UPDATE access_log SET route = '/elsewhere' WHERE sequence = 3")
    broken = await invoke(runner, group, ["verify"])

    assert intact.exit_code == 0, intact.output
    assert "OK, 4 entries" in intact.output
    assert broken.exit_code == 1
    assert "BROKEN at entry 3" in broken.output


async def test_archive_and_prune_then_verify_with_the_archive(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    await audit_database.append(5, occurred_at=days_ago(400))
    await audit_database.append(2, occurred_at=days_ago(1))
    group = audit_commands(audit_database.zone)

    pruned = await invoke(runner, group, ["archive-and-prune", "--days", "365"])
    archive = next((tmp_path / audit_database.zone.value / "audit-archive").glob("*.jsonl"))
    verified = await invoke(runner, group, ["verify", "--archive", str(archive)])

    assert pruned.exit_code == 0, pruned.output
    assert "archived 5 entries through sequence 5" in pruned.output
    assert verified.exit_code == 0, verified.output
    assert verified.output.count("OK") == 2


async def test_export_writes_csv(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    await audit_database.append(3)
    output = tmp_path / "log.csv"

    result = await invoke(
        runner, audit_commands(audit_database.zone), ["export", "-o", str(output)]
    )

    assert result.exit_code == 0, result.output
    assert len(output.read_text(encoding="utf-8").splitlines()) == 4


async def test_verify_with_a_witness_notices_the_newest_entries_removed(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    group = audit_commands(audit_database.zone)
    await audit_database.append(5)
    first = await invoke(runner, group, ["verify", "--witness", str(witness), "--new-witness"])
    await audit_database.append(2)
    second = await invoke(runner, group, ["verify", "--witness", str(witness)])
    recorded = witness.read_bytes()
    # Entries 6 and 7 go, with the triggers off: the chain alone still verifies.
    await audit_database.tamper("DELETE FROM access_log WHERE sequence >= 6")
    alone = await invoke(runner, group, ["verify"])
    against = await invoke(runner, group, ["verify", "--witness", str(witness)])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "entry 5 is still there, unchanged" in second.output
    assert alone.exit_code == 0, alone.output
    assert against.exit_code == 1
    assert "BROKEN against the witness: entry 7" in against.output
    assert "have been removed" in against.output
    assert witness.read_bytes() == recorded  # kept as evidence


async def test_verify_with_a_witness_notices_an_emptied_or_rewritten_log(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    group = audit_commands(audit_database.zone)
    await audit_database.append(3)
    await invoke(runner, group, ["verify", "--witness", str(witness), "--new-witness"])
    # Rewritten from entry 3 on: a new entry 3 that links correctly to entry 2.
    await audit_database.tamper("DELETE FROM access_log WHERE sequence = 3")
    await audit_database.tamper(
        "SELECT setval(pg_get_serial_sequence('access_log', 'sequence'), 2)"
    )
    await audit_database.append(1)
    rewritten = await invoke(runner, group, ["verify", "--witness", str(witness)])
    # Emptied, then the zone goes on writing: a fresh chain from genesis, numbered on.
    await audit_database.tamper("DELETE FROM access_log")
    await audit_database.append(2)
    emptied = await invoke(runner, group, ["verify", "--witness", str(witness)])

    assert rewritten.exit_code == 1
    assert "entry 3" in rewritten.output
    assert "has been replaced" in rewritten.output
    assert emptied.exit_code == 1
    assert "have been removed" in emptied.output


async def test_verify_with_a_witness_accepts_archive_and_prune_with_its_archive_only(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    group = audit_commands(audit_database.zone)
    await audit_database.append(4, occurred_at=days_ago(400))
    await invoke(runner, group, ["verify", "--witness", str(witness), "--new-witness"])
    recorded = witness.read_bytes()

    pruned = await invoke(runner, group, ["archive-and-prune", "--days", "365"])
    verified = await invoke(runner, group, ["verify", "--witness", str(witness)])
    witness.write_bytes(recorded)  # as if that verify had not run
    archive = next((tmp_path / audit_database.zone.value / "audit-archive").glob("*.jsonl"))
    moved = archive.rename(tmp_path / archive.name)  # taken off the host
    without = await invoke(runner, group, ["verify", "--witness", str(witness)])
    given = await invoke(
        runner, group, ["verify", "--witness", str(witness), "--archive", str(moved)]
    )

    assert pruned.exit_code == 0, pruned.output
    assert verified.exit_code == 0, verified.output
    assert without.exit_code == 1
    assert "was pruned into the archive" in without.output
    assert given.exit_code == 0, given.output


async def test_verify_with_a_witness_refuses_a_prune_without_its_archive(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    group = audit_commands(audit_database.zone)
    await audit_database.append(4)
    await invoke(runner, group, ["verify", "--witness", str(witness), "--new-witness"])
    head = (await audit_database.fetch("SELECT entry_hash FROM access_log WHERE sequence = 4"))[0]
    # Anyone allowed to run the prune function can make a checkpoint without an archive.
    connection = await asyncpg.connect(audit_database.dsn)
    try:
        await connection.execute(
            "SELECT access_log_prune(4, $1, 'made-up.jsonl', $2, $3, 'intruder')",
            head["entry_hash"],
            "0" * 64,
            audit_database.zone.value,
        )
    finally:
        await connection.close()
    alone = await invoke(runner, group, ["verify"])
    against = await invoke(runner, group, ["verify", "--witness", str(witness)])

    assert alone.exit_code == 0, alone.output
    assert against.exit_code == 1
    assert "made-up.jsonl, which was not given" in against.output


async def test_a_lost_witness_fails_and_a_new_one_needs_saying_so(
    audit_database: AuditDatabase, runner: CliRunner, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    group = audit_commands(audit_database.zone)
    await audit_database.append(2)

    lost = await invoke(runner, group, ["verify", "--witness", str(witness)])
    created = await invoke(runner, group, ["verify", "--witness", str(witness), "--new-witness"])
    again = await invoke(runner, group, ["verify", "--witness", str(witness), "--new-witness"])
    other_zone = tmp_path / "other.json"
    other_zone.write_text(
        witness.read_text().replace(audit_database.zone.value, "elsewhere"), encoding="utf-8"
    )
    wrong = await invoke(runner, group, ["verify", "--witness", str(other_zone)])
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json", encoding="utf-8")
    unreadable = await invoke(runner, group, ["verify", "--witness", str(garbage)])

    assert lost.exit_code == 1
    assert "add --new-witness" in lost.output
    assert created.exit_code == 0, created.output
    assert '"sequence":2' in witness.read_text()
    assert again.exit_code == 1
    assert "only for the first verify" in again.output
    assert wrong.exit_code == 1
    assert "elsewhere zone's witness" in wrong.output
    assert unreadable.exit_code == 1
    assert "not a witness file" in unreadable.output
