"""``madoguchi <zone> audit``: verify, export, archive-and-prune on the test databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

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
