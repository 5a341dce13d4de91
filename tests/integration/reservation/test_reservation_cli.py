"""``madoguchi reservation seed-demo`` and ``slots generate`` are in the access log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.core.audit.commands import cli_staff
from api.core.settings import Zone, get_settings
from api.reservation.cli import reservation_group
from tests.conftest import truncate_all
from tests.integration.command_entries import command_entries, run_async, use_zone_database


@pytest.fixture
def cli_database(
    zone_database_urls: dict[Zone, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    url = zone_database_urls[Zone.RESERVATION]
    use_zone_database(monkeypatch, Zone.RESERVATION, url, tmp_path)
    yield url
    get_settings.cache_clear()
    run_async(truncate_all(url))


def test_seeding_and_generating_slots_are_logged_with_the_cli_user(cli_database: str) -> None:
    runner = CliRunner()

    seeded = runner.invoke(reservation_group, ["seed-demo"])
    generated = runner.invoke(reservation_group, ["slots", "generate", "--location", "KITA"])

    assert (seeded.exit_code, generated.exit_code) == (0, 0), seeded.output + generated.output
    entries = command_entries(cli_database)
    assert [(e["route"], e["outcome"]) for e in entries] == [
        ("madoguchi reservation seed-demo", "success"),
        ("madoguchi reservation slots generate", "success"),
    ]
    assert {(e["actor"], e["actor_kind"]) for e in entries} == {(cli_staff(), "cli")}
    assert int(entries[0]["detail"]["slots"]) > 0
    assert entries[1]["resource_ids"] == ["location=KITA"]
    assert entries[1]["detail"]["created"] == "0"  # seed-demo made them already
