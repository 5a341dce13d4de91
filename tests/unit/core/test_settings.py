from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from api.core.settings import SettingsError, Zone, all_settings, load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_need_no_environment_and_use_the_embedded_database() -> None:
    settings = load_settings(Zone.RESERVATION, {})

    assert settings.database_url == ""
    assert settings.port == 8002
    assert settings.timezone == "Asia/Tokyo"
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ISSUANCE_PORT", "eighty"),
        ("ISSUANCE_PORT", "70000"),
        ("ISSUANCE_DATABASE_URL", "sqlite:///madoguchi.db"),
        ("ISSUANCE_DATABASE_POOL_SIZE", "0"),
        ("MADOGUCHI_DEBUG", "maybe"),
        ("MADOGUCHI_LOG_FORMAT", "xml"),
        ("MADOGUCHI_LOG_LEVEL", "LOUD"),
        ("MADOGUCHI_TIMEZONE", "Mars/Olympus"),
        ("MADOGUCHI_DEMO_RESIDENTS", "-3"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(Zone.ISSUANCE, {variable: value})


def test_environment_overrides_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ISSUANCE_PORT=9100\nISSUANCE_HOST=0.0.0.0\n", encoding="utf-8")
    monkeypatch.setenv("ISSUANCE_PORT", "9200")
    monkeypatch.delenv("ISSUANCE_HOST", raising=False)

    settings = load_settings(Zone.ISSUANCE, env_file=env_file)

    assert settings.port == 9200
    assert settings.host == "0.0.0.0"


def test_readme_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    missing = [s.variable for s in all_settings() if f"`{s.variable}`" not in readme]

    assert missing == []


def test_readme_table_is_what_madoguchi_settings_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    printed = CliRunner().invoke(main, ["settings"]).output

    rows = [line for line in printed.splitlines() if line.startswith("| `")]

    assert rows
    assert [line for line in rows if line not in readme.splitlines()] == []
