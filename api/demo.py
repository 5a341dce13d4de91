"""``madoguchi demo seed``: a complete demo, made through the operators' own commands.

Both zones run on one machine here, so the USB stick is a folder under ``var/demo``. The
steps are those a city would take: each zone makes its keys and pins the other's, an
administrator is created in each zone, the card list and the 交付前設定結果 are imported,
the counter locations are set up in both zones (the same codes and names), the eligibility
bundle is exported, carried and imported. Seeded once (a marker file).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from pathlib import Path
from typing import Final

import click
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit.commands import cli_staff
from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.identity.cli import create_account_with_role, zone_tables
from api.core.identity.permissions import ADMINISTRATOR_PERMISSIONS, ZONE_PERMISSIONS
from api.core.settings import Zone, ZoneSettings
from api.core.zone_cli import zone_settings
from api.issuance.demo_data import generate_residents
from api.issuance.exchange.models import CounterLocation
from api.issuance.locations.schemas import CounterLocationInput
from api.issuance.locations.services import CounterLocationService
from api.reservation.demo import DEMO_LOCATIONS
from sync_format.keys import PUBLIC_KEYS_FILE

DEMO_ADMIN: Final = "demo-admin"
DEMO_STAFF: Final = "demo-staff"
ROLES: Final = (DEMO_ADMIN, DEMO_STAFF)
MARKER: Final = ".seeded"
DEMO_SEED: Final = 2026
# Every tenth card has not been set up yet, so the demo shows cards that cannot book.
NOT_SET_UP_EVERY: Final = 10


def _run(arguments: list[str], *, stdin: str | None = None) -> str:
    """Run one ``madoguchi`` command in this process; stop the demo if it fails."""
    from api.cli import main  # noqa: PLC0415 - api.cli imports this module

    result = CliRunner().invoke(main, arguments, input=stdin, catch_exceptions=False)
    if result.exit_code != 0:
        message = f"`madoguchi {' '.join(arguments)}` failed:\n{result.output}"
        raise click.ClickException(message)
    return result.output


def _keys(settings: dict[Zone, ZoneSettings]) -> None:
    for zone in Zone:
        if not (settings[zone].key_dir / PUBLIC_KEYS_FILE).exists():
            _run(["keys", "init", "--zone", zone.value])
    for zone, peer in ((Zone.ISSUANCE, Zone.RESERVATION), (Zone.RESERVATION, Zone.ISSUANCE)):
        # On a real site the file comes on the USB stick and the fingerprint by phone.
        peer_keys = settings[peer].key_dir / PUBLIC_KEYS_FILE
        _run(["keys", "trust", "--zone", zone.value, str(peer_keys), "--yes"])


def _presetup_results(folder: Path, count: int) -> Path:
    """A 交付前設定結果 file marking most demo cards as set up (済) yesterday."""
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    lines = ["製造管理番号,結果,実施日"]
    lines += [
        f"{resident.row.reservation_id},済,{yesterday}"
        for index, resident in enumerate(generate_residents(count, seed=DEMO_SEED))
        if index % NOT_SET_UP_EVERY != NOT_SET_UP_EVERY - 1
    ]
    path = folder / "presetup-results.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return path


async def _create_counter_staff(settings: ZoneSettings, url: str, password: str) -> None:
    """A member of counter staff holding every permission but the administrator's."""
    config = create_sqlalchemy_config(settings.zone, url, null_pool=True)
    async with config.get_session() as session:
        await create_account_with_role(
            session,
            zone_tables(settings.zone),
            settings,
            login_id=DEMO_STAFF,
            display_name="窓口 デモ",
            password=password,
            role_name="counter-staff",
            role_description="Counter staff: every function but staff accounts and settings.",
            permissions=[
                permission.value
                for permission in ZONE_PERMISSIONS[settings.zone]
                if permission not in ADMINISTRATOR_PERMISSIONS
            ],
        )


async def seed_issuance_locations(session: AsyncSession, *, actor: str) -> int:
    """Add the reservation zone's demo places to the issuance zone, listed on letters.

    Same codes, names and addresses as ``DEMO_LOCATIONS``; a code the zone knows already is
    left as it is. Returns how many were added.
    """
    locations = CounterLocationService(session=session)
    added = 0
    for place in DEMO_LOCATIONS:
        if await locations.get_one_or_none(CounterLocation.code == place.code) is None:
            location = CounterLocationInput(code=place.code, name=place.name, address=place.address)
            await locations.add(location, staff=actor)
            added += 1
    return added


async def _create_issuance_locations(url: str) -> int:
    config = create_sqlalchemy_config(Zone.ISSUANCE, url, null_pool=True)
    async with config.get_session() as session, session.begin():
        return await seed_issuance_locations(session, actor=cli_staff())


def seed_demo() -> Path:
    """Seed both zones once; return the file listing the demo logins."""
    settings = {zone: zone_settings(zone) for zone in Zone}
    folder = settings[Zone.ISSUANCE].var_dir / "demo"
    logins = folder / "demo-logins.txt"
    if (folder / MARKER).exists():
        click.echo("demo data present")
        return logins
    folder.mkdir(parents=True, exist_ok=True)
    _keys(settings)
    click.echo(_run(["issuance", "seed-demo"]).strip())
    issuance_url = resolve_database_url(settings[Zone.ISSUANCE])
    added = asyncio.run(_create_issuance_locations(issuance_url))
    click.echo(f"issuance: {added} counter locations listed on letters")
    count = settings[Zone.ISSUANCE].demo_residents
    results = _presetup_results(folder, count)
    _run(["issuance", "progress", "import-results", str(results), "--kind", "presetup"])
    passwords = {(zone, role): secrets.token_urlsafe(12) for zone in Zone for role in ROLES}
    for zone in Zone:
        _run(
            [zone.value, "users", "create-admin", "--login-id", DEMO_ADMIN, "--password-stdin"],
            stdin=f"{passwords[zone, DEMO_ADMIN]}\n",
        )
        url = resolve_database_url(settings[zone])
        asyncio.run(_create_counter_staff(settings[zone], url, passwords[zone, DEMO_STAFF]))
    click.echo(_run(["reservation", "seed-demo"]).strip())
    stick = folder / "usb-stick"
    stick.mkdir(exist_ok=True)
    before = set(stick.glob("*"))
    _run(["issuance", "sync", "export", "--out", str(stick)])
    (bundle,) = set(stick.glob("*")) - before
    click.echo(_run(["reservation", "sync", "import-eligibility", str(bundle)]).strip())
    (receipt,) = set(stick.glob("receipt-*")) - before
    _run(["issuance", "sync", "import-receipt", str(receipt)])
    residents = [
        f"  resident  ID {resident.row.reservation_id}  password {resident.row.password}"
        for resident in generate_residents(min(count, 3), seed=DEMO_SEED)
    ]
    staff = [
        f"  {zone.value:<12} staff  login {login:<11} password {passwords[zone, login]}"
        for zone in Zone
        for login in ROLES
    ]
    logins.write_text("\n".join([*staff, *residents]) + "\n", encoding="utf-8")
    logins.chmod(0o600)
    (folder / MARKER).touch()
    return logins


@click.group(name="demo")
def demo_commands() -> None:
    """Demo data for trying Madoguchi on one machine (never on a real site)."""


@demo_commands.command(name="seed")
def seed_command() -> None:
    """Seed both zones once: keys, card list, progress, administrators, places, eligibility."""
    logins = seed_demo()
    click.echo(f"demo logins are in {logins}")
