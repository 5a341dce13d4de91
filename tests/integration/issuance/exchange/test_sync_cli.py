from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.audit.commands import cli_staff
from api.core.settings import Zone, get_settings
from api.issuance.exchange.cli import issuance_sync_commands
from api.issuance.progress.cli import progress_commands
from sync_format import TrustStore, ZoneSecretKeys, init_keys
from tests.conftest import truncate_all
from tests.integration.command_entries import command_entries, entry_text, fetch
from tests.integration.issuance.progress.factories import add_residents


@pytest.fixture
def cli_database(
    zone_database_urls: dict[Zone, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    url = zone_database_urls[Zone.ISSUANCE]
    monkeypatch.setenv("ISSUANCE_DATABASE_URL", url.replace("+asyncpg", ""))
    monkeypatch.setenv("MADOGUCHI_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, truncate_all(url)).result()


def _seed(url: str) -> list[str]:
    async def seed() -> list[str]:
        engine = create_async_engine(url, poolclass=NullPool)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            residents = await add_residents(session, 2)
            await session.commit()
        await engine.dispose()
        return [r.reservation_id for r in residents]

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, seed()).result()


def test_cli_imports_results_then_exports_a_full_then_a_delta_bundle(
    cli_database: str, tmp_path: Path
) -> None:
    ids = _seed(cli_database)
    results = tmp_path / "presetup.csv"
    results.write_text(
        f"製造管理番号,結果,実施日\r\n{ids[0]},済,2026-04-01\r\n{ids[1]},済,2026-04-01\r\n",
        encoding="cp932",
    )
    key_dir = tmp_path / "keys"
    init_keys(key_dir, "issuance")
    TrustStore([ZoneSecretKeys.generate("reservation").public()]).save(key_dir)
    runner = CliRunner()

    dry = runner.invoke(
        progress_commands, ["import-results", str(results), "--kind", "presetup", "--dry-run"]
    )
    imported = runner.invoke(
        progress_commands, ["import-results", str(results), "--kind", "presetup"]
    )
    out = tmp_path / "usb"
    first = runner.invoke(
        issuance_sync_commands, ["export", "--out", str(out), "--key-dir", str(key_dir)]
    )
    second = runner.invoke(
        issuance_sync_commands, ["export", "--out", str(out), "--key-dir", str(key_dir)]
    )
    verify = runner.invoke(progress_commands, ["verify"])

    assert dry.exit_code == 0, dry.output
    assert "not recorded (dry run)" in dry.output
    assert imported.exit_code == 0, imported.output
    assert "2 to apply" in imported.output
    assert first.exit_code == 0, first.output
    assert "eligibility bundle 1 (full): 2 bookable" in first.output
    assert "eligibility bundle 2 (delta from 1): 0 bookable, 0 revoked" in second.output
    assert sorted(path.name for path in out.iterdir()) == [
        "eligibility-000001-full.bundle",
        "eligibility-000002-delta.bundle",
    ]
    assert verify.exit_code == 0, verify.output


def test_each_cli_command_is_logged_with_the_cli_user_who_is_also_the_recorded_actor(
    cli_database: str, tmp_path: Path
) -> None:
    ids = _seed(cli_database)
    results = tmp_path / "presetup.csv"
    results.write_text(f"製造管理番号,結果,実施日\r\n{ids[0]},済,2026-04-01\r\n", encoding="cp932")
    reservations = tmp_path / "reservations.csv"
    reservations.write_bytes(
        f"予約番号,予約用ID\r\nK7QXM3PA,{ids[1]}\r\n".encode()
    )  # columns missing
    not_a_bundle = tmp_path / "receipt.bundle"
    not_a_bundle.write_bytes(b"not a bundle")
    key_dir = tmp_path / "keys"
    init_keys(key_dir, "issuance")
    TrustStore([ZoneSecretKeys.generate("reservation").public()]).save(key_dir)
    keys = ["--key-dir", str(key_dir)]
    runner = CliRunner()

    runs = [
        runner.invoke(progress_commands, ["import-results", str(results), "--kind", "presetup"]),
        runner.invoke(issuance_sync_commands, ["export", "--out", str(tmp_path / "usb"), *keys]),
        runner.invoke(progress_commands, ["verify"]),
        runner.invoke(issuance_sync_commands, ["import-reservations", str(reservations)]),
        runner.invoke(issuance_sync_commands, ["import-receipt", str(not_a_bundle), *keys]),
    ]

    assert [run.exit_code for run in runs[:3]] == [0, 0, 0], [run.output for run in runs]
    assert runs[3].exit_code == 1
    assert runs[4].exit_code != 0
    entries = command_entries(cli_database)
    assert [(e["route"].removeprefix("madoguchi issuance "), e["outcome"]) for e in entries] == [
        ("progress import-results", "success"),
        ("sync export", "success"),
        ("progress verify", "success"),
        ("sync import-reservations", "refused"),
        ("sync import-receipt", "refused"),
    ]
    assert {(e["actor"], e["actor_kind"]) for e in entries} == {(cli_staff(), "cli")}
    assert (entries[0]["detail"]["applied"], entries[0]["detail"]["kind"]) == ("1", "presetup")
    assert entries[1]["resource_ids"] == ["sequence=1"]
    assert entries[1]["detail"]["upserts"] == "1"
    assert entries[3]["detail"]["source"] == "csv"
    assert not [e for e in entries if ids[0] in entry_text(e) or ids[1] in entry_text(e)]
    actors = fetch(
        cli_database,
        "SELECT actor FROM progress_events UNION ALL SELECT actor FROM eligibility_exports",
    )
    assert actors == [{"actor": cli_staff()}] * 2
