"""The commands every zone has: ``serve`` and ``db`` (migrations through advanced-alchemy)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import click
import uvicorn
from advanced_alchemy.alembic.commands import AlembicCommands

from api.core.audit.cli import audit_commands
from api.core.database import create_sqlalchemy_config, ensure_database, resolve_database_url
from api.core.metrics import prepare_multiprocess
from api.core.settings import SettingsError, Zone, ZoneSettings, get_settings


def zone_settings(zone: Zone) -> ZoneSettings:
    """The zone's settings, or a clean exit naming the bad variable."""
    try:
        return get_settings(zone)
    except SettingsError as error:
        click.echo(f"madoguchi: configuration error: {error}", err=True)
        sys.exit(2)


def alembic_commands(zone: Zone) -> AlembicCommands:
    """Alembic commands bound to the zone's database (starting the embedded one if needed)."""
    settings = zone_settings(zone)
    url = resolve_database_url(settings)
    # Migrating is where a zone's database comes into being, on a configured server too.
    asyncio.run(ensure_database(url))
    return AlembicCommands(create_sqlalchemy_config(zone, url, null_pool=True))


def exit_on_signal(number: int, _: object) -> None:
    """Signal handler: end the process as ``sys.exit`` does, so its exit hooks run."""
    raise SystemExit(128 + number)


def make_zone_group(zone: Zone, app_factory: str) -> click.Group:
    """Build the ``madoguchi <zone>`` group; the zone's own module adds its commands."""

    @click.group(name=zone.value, help=f"Commands of the {zone.value} zone.")
    def group() -> None:
        pass

    @group.command()
    @click.option("--host", default=None, help="Listen address (default: the zone's setting).")
    @click.option("--port", type=int, default=None, help="Port (default: the zone's setting).")
    @click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
    def serve(host: str | None, port: int | None, workers: int) -> None:
        """Serve the zone's web application with uvicorn."""
        settings = zone_settings(zone)
        # Resolve once here: this process keeps the embedded server alive, and the
        # workers inherit its URL instead of each starting their own.
        os.environ[f"{zone.value.upper()}_DATABASE_URL"] = resolve_database_url(settings)
        get_settings.cache_clear()
        if workers > 1:
            prepare_multiprocess(settings.zone_dir / "metrics", zone.value)
        # uvicorn re-raises the stop signal once it has shut down; under the default
        # SIGTERM action the process would die there without running its exit hooks, and
        # the embedded PostgreSQL (stopped by one of them) would be left running.
        signal.signal(signal.SIGTERM, exit_on_signal)
        uvicorn.run(
            app_factory,
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_config=None,
            proxy_headers=False,
        )

    @group.group(name="db")
    def database() -> None:
        """Database migrations of this zone."""

    @database.command()
    @click.option("--revision", default="head", show_default=True)
    def upgrade(revision: str) -> None:
        """Apply migrations up to REVISION."""
        alembic_commands(zone).upgrade(revision=revision)
        click.echo(f"{zone.value}: database at {revision}")

    @database.command()
    @click.option("--revision", default="-1", show_default=True)
    def downgrade(revision: str) -> None:
        """Revert migrations down to REVISION."""
        alembic_commands(zone).downgrade(revision=revision)

    @database.command()
    def current() -> None:
        """Show the database's current revision."""
        alembic_commands(zone).current(verbose=True)

    @database.command(name="make-migration")
    @click.option("--message", "-m", required=True, help="What the migration changes.")
    def make_migration(message: str) -> None:
        """Autogenerate a date-prefixed migration from the zone's models."""
        alembic_commands(zone).revision(message=message, autogenerate=True)

    group.add_command(audit_commands(zone))
    return group
