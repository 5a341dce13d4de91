"""``madoguchi issuance import-cards FILE [--profile P] [--dry-run]``: the card list import."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from api.core.audit.commands import logged_command
from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.settings import Zone
from api.core.zone_cli import zone_settings
from api.issuance.residents.importing import (
    CardImportRefused,
    CardImportReport,
    import_card_list,
)
from sync_format.csv import CardListProfile, Problem, ProfileError, bundled_profile, load_profile

PROBLEMS_SHOWN = 200


def _profile(name: str) -> CardListProfile:
    """A bundled profile by name (``default``) or a profile file (``city.toml``)."""
    try:
        if name.endswith(".toml") or Path(name).exists():
            return load_profile(name)
        return bundled_profile(name)
    except (ProfileError, FileNotFoundError) as error:
        raise click.BadParameter(str(error), param_hint="--profile") from None


def _echo_problems(title: str, problems: list[Problem]) -> None:
    if not problems:
        return
    click.echo(f"{title} ({len(problems)}):")
    for problem in problems[:PROBLEMS_SHOWN]:
        click.echo(f"  {problem.describe()}")
    if len(problems) > PROBLEMS_SHOWN:
        click.echo(f"  ... and {len(problems) - PROBLEMS_SHOWN} more")


def echo_report(report: CardImportReport) -> None:
    """Print an import's preview or result for staff."""
    verb = "imported" if report.applied else "would import (dry run)"
    click.echo(
        f"{report.rows} rows ({report.encoding}): {report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged, {report.gaiji} with 外字 — {verb}"
    )
    _echo_problems("warnings", report.warnings)


@click.command(name="import-cards")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", default="default", show_default=True, help="profile name or .toml")
@click.option("--dry-run", is_flag=True, help="validate and count; change nothing")
def import_cards_command(file: Path, profile: str, dry_run: bool) -> None:
    """Import a card list (カード発行一覧CSV); nothing is imported while any row is bad."""
    chosen = _profile(profile)
    settings = zone_settings(Zone.ISSUANCE)
    config = create_sqlalchemy_config(Zone.ISSUANCE, resolve_database_url(settings), null_pool=True)
    with logged_command(Zone.ISSUANCE, "import-cards") as entry:
        entry.note(profile=chosen.name, dry_run=dry_run)

        async def run() -> CardImportReport:
            async with config.get_session() as session, session.begin():
                return await import_card_list(
                    session,
                    file,
                    profile=chosen,
                    dry_run=dry_run,
                    file_name=file.name,
                    staff=entry.staff,
                    refuse=False,
                )

        report = asyncio.run(run())
        entry.resource_ids.append(f"card_import={report.card_import_id}")
        entry.note(
            sha256=report.sha256,
            applied=report.applied,
            rows=report.rows,
            new=report.new,
            changed=report.changed,
            unchanged=report.unchanged,
            gaiji=report.gaiji,
            problems=len(report.problems),
            warnings=len(report.warnings),
        )
        echo_report(report)
        if report.problems:
            entry.outcome = "refused"
            _echo_problems("bad rows — nothing was imported", report.problems)
            raise SystemExit(1)


__all__ = ["CardImportRefused", "import_cards_command"]
