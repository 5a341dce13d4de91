"""``madoguchi issuance import-cards``: who imported is recorded, and the run is in the log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.core.audit.commands import cli_staff
from api.core.settings import Zone, get_settings
from api.issuance.residents.cli import import_cards_command
from tests.conftest import truncate_all
from tests.integration.command_entries import (
    command_entries,
    entry_text,
    fetch,
    run_async,
    use_zone_database,
)
from tests.integration.issuance.conftest import card_list

SECOND = {"製造管理番号": "B2C-654321", "申請書ID": "00123456789012345678902"}
ROUTE = "madoguchi issuance import-cards"


@pytest.fixture
def cli_database(
    zone_database_urls: dict[Zone, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    url = zone_database_urls[Zone.ISSUANCE]
    use_zone_database(monkeypatch, Zone.ISSUANCE, url, tmp_path)
    yield url
    get_settings.cache_clear()
    run_async(truncate_all(url))


def test_import_cards_records_the_cli_user_as_staff_and_logs_each_run(
    cli_database: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "list-1.csv", tmp_path / "list-2.csv"
    first.write_bytes(card_list({}, SECOND))
    second.write_bytes(card_list({"住所": "見本県デモ市新町9-9"}, SECOND))
    runner = CliRunner()

    results = [runner.invoke(import_cards_command, [str(path)]) for path in (first, second)]

    assert [result.exit_code for result in results] == [0, 0], results[1].output
    imports = fetch(
        cli_database,
        "SELECT id, created_by, applied_by, new, changed FROM card_imports ORDER BY id",
    )
    assert [(row["created_by"], row["applied_by"]) for row in imports] == [
        (cli_staff(), cli_staff())
    ] * 2
    history = fetch(cli_database, "SELECT changed_by FROM resident_history")
    assert history == [{"changed_by": cli_staff()}]
    entries = command_entries(cli_database)
    assert [(e["actor"], e["actor_kind"], e["route"], e["outcome"]) for e in entries] == [
        (cli_staff(), "cli", ROUTE, "success")
    ] * 2
    assert [e["resource_ids"] for e in entries] == [[f"card_import={row['id']}"] for row in imports]
    assert [(e["detail"]["new"], e["detail"]["changed"]) for e in entries] == [
        ("2", "0"),
        ("0", "1"),
    ]
    assert entries[0]["detail"]["dry_run"] == "false"
    for entry in entries:  # counts and ids, never what the file says or is called
        text = entry_text(entry)
        assert not [word for word in ("見本", "A1B-123456", "list-1.csv") if word in text]


def test_a_refused_card_list_is_logged_as_refused_with_its_problem_count(
    cli_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(card_list({}, {**SECOND, "氏名": "見本\x00太郎"}))

    result = CliRunner().invoke(import_cards_command, [str(path)])

    assert result.exit_code == 1
    assert "line 3, column 氏名" in result.output
    assert fetch(cli_database, "SELECT count(*) AS residents FROM residents") == [{"residents": 0}]
    (entry,) = command_entries(cli_database)
    assert entry["outcome"] == "refused"
    assert (entry["detail"]["problems"], entry["detail"]["applied"]) == ("1", "false")
    assert "見本" not in entry_text(entry)


def test_a_dry_run_is_logged_too(cli_database: str, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(card_list({}))

    result = CliRunner().invoke(import_cards_command, [str(path), "--dry-run"])

    assert result.exit_code == 0, result.output
    (entry,) = command_entries(cli_database)
    assert (entry["outcome"], entry["detail"]["dry_run"], entry["detail"]["applied"]) == (
        "success",
        "true",
        "false",
    )
