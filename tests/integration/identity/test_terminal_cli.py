"""`madoguchi <zone> terminals`: register, list, deactivate terminals from the server's shell."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from api.core.identity.services import IdentityConflict, TerminalService
from api.core.identity.terminal_cli import terminals_commands
from api.core.settings import Zone
from api.issuance.models import CORE_TABLES
from tests.integration.identity.conftest import StaffAppFactory, invoke_zone_cli


def _certificate(name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


async def _log(url: str, zone: Zone) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT route, outcome FROM access_log WHERE route LIKE $1 ORDER BY sequence",
            f"madoguchi {zone.value} terminals %",
        )
    finally:
        await connection.close()
    return [(row["route"].split()[-1], row["outcome"]) for row in rows]


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
async def test_terminals_are_registered_by_certificate_listed_and_taken_out_of_service(
    staff_app_factory: StaffAppFactory,
    zone_database_urls: dict[Zone, str],
    tmp_path: Path,
    zone: Zone,
) -> None:
    await staff_app_factory(zone)  # migrated tables, emptied afterwards
    url = zone_database_urls[zone]
    certificate = _certificate("counter-1")
    pem = tmp_path / "counter-1.pem"
    der = tmp_path / "counter-1.der"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    der.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    key_file = tmp_path / "not-a-certificate.pem"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    # What `openssl x509 -outform DER | sha1sum` prints, and nginx passes.
    expected = hashlib.sha1(der.read_bytes()).hexdigest()

    def invoke(*args: str) -> Any:
        return invoke_zone_cli(terminals_commands(zone), zone, url, tmp_path, list(args))

    registered = await asyncio.to_thread(invoke, "register", "counter-1", "--certificate", str(pem))
    again = await asyncio.to_thread(invoke, "register", "counter-1b", "--certificate", str(der))
    by_digits = await asyncio.to_thread(
        invoke, "register", "counter-2", "--fingerprint", ":".join(["AB"] * 20)
    )
    not_hex = await asyncio.to_thread(invoke, "register", "x", "--fingerprint", "counter-3")
    not_certificate = await asyncio.to_thread(
        invoke, "register", "x", "--certificate", str(key_file)
    )
    both = await asyncio.to_thread(
        invoke, "register", "x", "--certificate", str(pem), "--fingerprint", expected
    )
    deactivated = await asyncio.to_thread(invoke, "deactivate", "--certificate", str(der))
    unknown = await asyncio.to_thread(invoke, "deactivate", "--fingerprint", "cd" * 20)
    listed = await asyncio.to_thread(invoke, "list")

    assert registered.exit_code == 0, registered.output
    assert expected in registered.output
    assert again.exit_code == 1
    assert "is registered" in again.output
    assert by_digits.exit_code == 0, by_digits.output
    assert not_hex.exit_code == 2
    assert "hexadecimal" in not_hex.output
    assert not_certificate.exit_code == 2
    assert "not an X.509 certificate" in not_certificate.output
    assert both.exit_code == 2
    assert deactivated.exit_code == 0, deactivated.output
    assert unknown.exit_code == 1
    assert listed.output.splitlines() == [
        f"{expected}\tinactive\tcounter-1",
        f"{'ab' * 20}\tactive\tcounter-2",
    ]
    # Refused before the database (exit 2) is not a run of the command; the others are.
    assert await _log(url, zone) == [
        ("register", "success"),
        ("register", "refused"),
        ("register", "success"),
        ("deactivate", "success"),
        ("deactivate", "refused"),
        ("list", "success"),
    ]


async def test_the_second_of_two_simultaneous_registrations_of_a_certificate_is_refused(
    staff_app_factory: StaffAppFactory, zone_database_urls: dict[Zone, str]
) -> None:
    await staff_app_factory(Zone.ISSUANCE)  # migrated tables, emptied afterwards
    engine = create_async_engine(zone_database_urls[Zone.ISSUANCE], poolclass=NullPool)
    fingerprint = "12" * 20
    async with (
        AsyncSession(engine, expire_on_commit=False) as first_desk,
        AsyncSession(engine, expire_on_commit=False) as second_desk,
    ):
        first = TerminalService.for_zone(first_desk, CORE_TABLES)
        await first.register(name="counter-1", fingerprint=fingerprint)
        # Uncommitted: the second INSERT has to wait on the unique index for this one.
        second = asyncio.create_task(
            TerminalService.for_zone(second_desk, CORE_TABLES).register(
                name="counter-1 again", fingerprint=fingerprint
            )
        )
        await asyncio.sleep(0.3)
        waited = not second.done()
        await first_desk.commit()
        with pytest.raises(IdentityConflict, match="is registered"):
            await second
        await second_desk.rollback()
        names = [terminal.name for terminal in await first.get_many()]
    await engine.dispose()

    assert waited
    assert names == ["counter-1"]
