"""``madoguchi reservation ...``: serve, migrate and seed the reservation zone."""

from __future__ import annotations

import asyncio
import datetime as dt

import click

from api.core.audit.commands import logged_command
from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.identity.cli import users_commands
from api.core.identity.terminal_cli import terminals_commands
from api.core.settings import Zone
from api.core.zone_cli import make_zone_group, zone_settings
from api.reservation.demo import seed_demo_places
from api.reservation.exchange.cli import reservation_sync_commands
from api.reservation.places.cli import places_commands
from api.reservation.places.services import Clock

reservation_group = make_zone_group(Zone.RESERVATION, "api.reservation.app:create_app")
reservation_group.add_command(users_commands(Zone.RESERVATION))
reservation_group.add_command(terminals_commands(Zone.RESERVATION))
reservation_group.add_command(places_commands)
reservation_group.add_command(reservation_sync_commands)


@reservation_group.command(name="seed-demo")
def seed_demo() -> None:
    """Create demo locations and slots once (does nothing when locations exist)."""
    settings = zone_settings(Zone.RESERVATION)
    config = create_sqlalchemy_config(
        Zone.RESERVATION, resolve_database_url(settings), null_pool=True
    )

    async def run() -> int:
        async with config.get_session() as session, session.begin():
            return await seed_demo_places(
                session, Clock(tz=settings.tz, now=dt.datetime.now(dt.UTC))
            )

    with logged_command(Zone.RESERVATION, "seed-demo") as entry:
        made = asyncio.run(run())
        entry.note(slots=made)
        click.echo(
            f"reservation: {made} demo slots created" if made else "reservation: demo data present"
        )
