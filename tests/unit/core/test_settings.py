from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from api.core.settings import SettingsError, Zone, all_settings, get_settings, load_settings
from api.core.zone_cli import zone_settings

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


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
def test_registered_terminals_need_a_certificate_proxy(zone: Zone) -> None:
    prefix = zone.value.upper()
    required = {f"{prefix}_REQUIRE_REGISTERED_TERMINAL": "true"}

    # Loopback stays a trusted proxy by default, but that is not enough to name terminals.
    with pytest.raises(SettingsError, match=f"{prefix}_CERTIFICATE_PROXIES") as refused:
        load_settings(zone, required)
    settings = load_settings(zone, {**required, f"{prefix}_CERTIFICATE_PROXIES": "127.0.0.1/32"})

    assert f"{prefix}_REQUIRE_REGISTERED_TERMINAL" in str(refused.value)
    assert [str(network) for network in settings.certificate_proxies] == ["127.0.0.1/32"]
    assert load_settings(zone, {}).certificate_proxies == ()
    with pytest.raises(SettingsError, match=f"{prefix}_CERTIFICATE_PROXIES"):
        load_settings(zone, {f"{prefix}_CERTIFICATE_PROXIES": "nginx"})


def test_a_zone_requiring_terminals_without_a_certificate_proxy_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("ISSUANCE_REQUIRE_REGISTERED_TERMINAL", "true")
    monkeypatch.delenv("ISSUANCE_CERTIFICATE_PROXIES", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as stopped:
            zone_settings(Zone.ISSUANCE)
    finally:
        get_settings.cache_clear()

    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("madoguchi: configuration error: ISSUANCE_REQUIRE_REGISTERED_TERMINAL")
    assert "ISSUANCE_CERTIFICATE_PROXIES" in error


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
