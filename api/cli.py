"""The ``madoguchi`` command: one entry point for both zones and the operators' tools."""

from __future__ import annotations

import click

from api.core.launcher import run_both_zones
from api.core.settings import Zone, all_settings
from api.core.sync_cli import keys_group, sync_group
from api.core.zone_cli import zone_settings
from api.demo import demo_commands
from api.issuance.cli import issuance_group
from api.reservation.cli import reservation_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Madoguchi: My Number Card issuance counters, in two zones joined by a USB stick."""


@main.command(name="settings")
def settings_table() -> None:
    """Print every setting as the Markdown table the README carries."""
    click.echo("| variable | default | meaning |\n|---|---|---|")
    for setting in all_settings():
        click.echo(f"| `{setting.variable}` | `{setting.default}` | {setting.description} |")


main.add_command(demo_commands)
main.add_command(issuance_group)
main.add_command(reservation_group)
main.add_command(keys_group)
main.add_command(sync_group)


@main.command()
def up() -> None:
    """Start both zones (migrated and seeded first by `make run`) and wait for Ctrl-C."""
    settings = {zone: zone_settings(zone) for zone in Zone}
    demo_logins = settings[Zone.ISSUANCE].var_dir / "demo" / "demo-logins.txt"
    raise SystemExit(run_both_zones(settings, demo_logins))


if __name__ == "__main__":
    main()
