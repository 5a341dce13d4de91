"""Operator CLI: keys init/show/trust/rotate, sync inspect/verify with distinct exit codes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from api.core.sync_cli import keys_group, sync_group
from sync_format import BadMagic, Tampered, UnknownSigner, load_secret_keys
from tests.unit.sync_format.sync_support import Zones, upserts, write_eligibility


def _setup(tmp_path: Path) -> tuple[CliRunner, Path, Path]:
    runner = CliRunner()
    issuance, reservation = tmp_path / "issuance", tmp_path / "reservation"
    for zone, folder in (("issuance", issuance), ("reservation", reservation)):
        result = runner.invoke(keys_group, ["init", "--zone", zone, "--key-dir", str(folder)])
        assert result.exit_code == 0, result.output
    trust = runner.invoke(
        keys_group,
        ["trust", str(issuance / "public_keys.json"), "--yes"],
        env={"MADOGUCHI_ZONE": "reservation", "MADOGUCHI_KEY_DIR": str(reservation)},
    )
    assert trust.exit_code == 0, trust.output
    return runner, issuance, reservation


def test_keys_init_show_and_trust(tmp_path: Path) -> None:
    runner, issuance, reservation = _setup(tmp_path)
    again = runner.invoke(keys_group, ["init", "--zone", "issuance", "--key-dir", str(issuance)])
    assert again.exit_code == 22
    shown = runner.invoke(
        keys_group, ["show", "--zone", "reservation", "--key-dir", str(reservation)]
    )
    assert shown.exit_code == 0
    assert "trusted:" in shown.output
    assert "issuance" in shown.output


def test_keys_rotate_then_the_other_zone_accepts_the_statement(tmp_path: Path) -> None:
    runner, issuance, reservation = _setup(tmp_path)
    rotated = runner.invoke(
        keys_group, ["rotate", "--zone", "issuance", "--key-dir", str(issuance)]
    )
    assert rotated.exit_code == 0, rotated.output
    (statement,) = issuance.glob("rotation-*.json")
    accepted = runner.invoke(
        keys_group,
        ["trust", str(statement), "--zone", "reservation", "--key-dir", str(reservation)],
    )
    assert accepted.exit_code == 0, accepted.output
    assert "Rotation statement verified" in accepted.output


def test_sync_verify_and_inspect(tmp_path: Path) -> None:
    runner, issuance, reservation = _setup(tmp_path)
    zones = Zones(load_secret_keys(issuance), load_secret_keys(reservation))
    path = write_eligibility(tmp_path / "e.bundle", zones, upserts(5), sequence=4)
    options = ["--zone", "reservation", "--key-dir", str(reservation)]
    verified = runner.invoke(sync_group, ["verify", str(path), *options])
    assert verified.exit_code == 0, verified.output
    assert "valid: eligibility bundle 4" in verified.output
    inspected = runner.invoke(sync_group, ["inspect", str(path), *options])
    assert inspected.exit_code == 0
    assert "records:    5" in inspected.output
    assert "verified:   yes" in inspected.output

    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    (tampered := tmp_path / "t.bundle").write_bytes(data)
    refused = runner.invoke(sync_group, ["verify", str(tampered), *options])
    assert refused.exit_code == Tampered.exit_code
    (junk := tmp_path / "junk").write_bytes(b"hello")
    assert (
        runner.invoke(sync_group, ["verify", str(junk), *options]).exit_code == BadMagic.exit_code
    )
    untrusted = runner.invoke(
        sync_group, ["verify", str(path), "--zone", "issuance", "--key-dir", str(issuance)]
    )
    assert untrusted.exit_code == UnknownSigner.exit_code
    report = runner.invoke(sync_group, ["inspect", str(tampered), *options])
    assert "verified:   NO: Tampered" in report.output
