from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.settings import Zone, get_settings
from api.issuance.exchange.cli import issuance_sync_commands
from api.issuance.progress.cli import progress_commands
from sync_format import TrustStore, ZoneSecretKeys, init_keys
from tests.conftest import truncate_all
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
