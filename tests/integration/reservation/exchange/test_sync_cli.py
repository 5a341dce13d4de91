"""``madoguchi reservation sync``: every run is in the access log, with the CLI user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.core.audit.commands import cli_staff
from api.core.settings import Zone, get_settings
from api.reservation.exchange.cli import reservation_sync_commands
from sync_format import TrustStore, ZoneSecretKeys, init_keys, load_secret_keys
from tests.conftest import truncate_all
from tests.integration.command_entries import (
    command_entries,
    entry_text,
    run_async,
    use_zone_database,
)
from tests.integration.reservation.exchange.exchange_support import eligibility_bundle, upsert


@pytest.fixture
def cli_database(
    zone_database_urls: dict[Zone, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    url = zone_database_urls[Zone.RESERVATION]
    use_zone_database(monkeypatch, Zone.RESERVATION, url, tmp_path)
    yield url
    get_settings.cache_clear()
    run_async(truncate_all(url))


def test_each_sync_command_is_logged_with_the_cli_user_and_its_counts(
    cli_database: str, tmp_path: Path, issuance_keys: ZoneSecretKeys
) -> None:
    key_dir = tmp_path / "keys"
    init_keys(key_dir, "reservation")
    TrustStore([issuance_keys.public()]).save(key_dir)
    bundle = eligibility_bundle(
        tmp_path / "eligibility.bundle",
        issuance_keys,
        load_secret_keys(key_dir),
        [upsert(1), upsert(2)],
        sequence=1,
    )
    not_a_bundle = tmp_path / "receipt.bundle"
    not_a_bundle.write_bytes(b"not a bundle")
    keys = ["--key-dir", str(key_dir)]
    runner = CliRunner()

    runs = [
        runner.invoke(reservation_sync_commands, ["import-eligibility", str(bundle), *keys]),
        runner.invoke(reservation_sync_commands, ["export", "--out", str(tmp_path / "usb"), *keys]),
        runner.invoke(reservation_sync_commands, ["import-receipt", str(not_a_bundle), *keys]),
    ]

    assert [run.exit_code for run in runs[:2]] == [0, 0], [run.output for run in runs]
    assert runs[2].exit_code != 0
    entries = command_entries(cli_database)
    assert [(e["route"], e["outcome"]) for e in entries] == [
        ("madoguchi reservation sync import-eligibility", "success"),
        ("madoguchi reservation sync export", "success"),
        ("madoguchi reservation sync import-receipt", "refused"),
    ]
    assert {(e["actor"], e["actor_kind"]) for e in entries} == {(cli_staff(), "cli")}
    assert entries[0]["resource_ids"] == ["sequence=1"]
    assert (entries[0]["detail"]["new"], entries[0]["detail"]["receipt"]) == ("2", "true")
    assert entries[1]["resource_ids"] == ["sequence=1"]
    assert not [e for e in entries if "A1B" in entry_text(e) or "0214" in entry_text(e)]
