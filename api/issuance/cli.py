"""``madoguchi issuance ...``: serve, migrate and seed the issuance zone."""

from __future__ import annotations

import asyncio

import click

from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.identity.cli import users_commands
from api.core.identity.terminal_cli import terminals_commands
from api.core.settings import Zone
from api.core.zone_cli import make_zone_group, zone_settings
from api.issuance.demo import seed_demo_residents, write_demo_files
from api.issuance.exchange.cli import issuance_sync_commands
from api.issuance.progress.cli import progress_commands
from api.issuance.residents.cli import import_cards_command
from api.issuance.services import CardImportReport

issuance_group = make_zone_group(Zone.ISSUANCE, "api.issuance.app:create_app")
issuance_group.add_command(users_commands(Zone.ISSUANCE))
issuance_group.add_command(terminals_commands(Zone.ISSUANCE))
issuance_group.add_command(progress_commands)
issuance_group.add_command(issuance_sync_commands)
issuance_group.add_command(import_cards_command)


@issuance_group.command(name="seed-demo")
def seed_demo() -> None:
    """Import a synthetic card list once (does nothing when residents exist)."""
    settings = zone_settings(Zone.ISSUANCE)
    config = create_sqlalchemy_config(Zone.ISSUANCE, resolve_database_url(settings), null_pool=True)

    card_list = write_demo_files(settings.var_dir / "demo", settings.demo_residents)

    async def run() -> CardImportReport | None:
        async with config.get_session() as session, session.begin():
            return await seed_demo_residents(session, card_list)

    report = asyncio.run(run())
    if report is None:
        click.echo("issuance: demo data present")
    else:
        click.echo(f"issuance: {report.new} demo residents imported ({report.gaiji} with 外字)")
