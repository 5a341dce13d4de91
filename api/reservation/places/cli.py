"""``madoguchi reservation slots …``: generate slots from the places settings."""

from __future__ import annotations

import asyncio
import datetime as dt

import click
from sqlalchemy import select

from api.core.audit.commands import logged_command
from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.errors import DomainError
from api.core.settings import Zone
from api.core.zone_cli import zone_settings
from api.reservation.models import Location
from api.reservation.places.models import LocationRules
from api.reservation.places.schemas import RegenerationReport
from api.reservation.places.slots import LOOKAHEAD_DAYS, regenerate_slots


@click.group("slots")
def places_commands() -> None:
    """Generate bookable slots from each location's settings."""


@places_commands.command("generate")
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day (default: today).",
)
@click.option(
    "--to",
    "end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day (default: the end of each location's booking horizon).",
)
@click.option("--location", "codes", multiple=True, help="Only this location (repeatable).")
@click.option(
    "--keep-over-capacity",
    is_flag=True,
    help="Keep bookings a capacity reduction leaves above capacity.",
)
def generate(
    start: dt.datetime | None,
    end: dt.datetime | None,
    codes: tuple[str, ...],
    keep_over_capacity: bool,
) -> None:
    """Make the slots of a date range match the settings (idempotent; run daily).

    Slots with bookings are never deleted. All locations change in one transaction: a
    refusal (bookings over a new capacity) changes nothing.
    """
    settings = zone_settings(Zone.RESERVATION)
    config = create_sqlalchemy_config(
        Zone.RESERVATION, resolve_database_url(settings), null_pool=True
    )
    tz = settings.tz
    now = dt.datetime.now(tz)
    first = start.date() if start else now.date()

    async def run() -> list[tuple[str, RegenerationReport]]:
        reports = []
        async with config.get_session() as session, session.begin():
            query = select(Location.id, Location.code, LocationRules.opens_days_ahead).outerjoin(
                LocationRules, LocationRules.location_id == Location.id
            )
            if codes:
                query = query.where(Location.code.in_(codes))
            for location_id, code, days_ahead in (await session.execute(query)).all():
                last = (
                    end.date()
                    if end
                    else first + dt.timedelta(days=(days_ahead or 30) + LOOKAHEAD_DAYS)
                )
                report = await regenerate_slots(
                    session,
                    location_id,
                    first,
                    last,
                    tz=tz,
                    now=now,
                    keep_over_capacity=keep_over_capacity,
                )
                reports.append((code, report))
        return reports

    with logged_command(Zone.RESERVATION, "slots generate") as entry:
        entry.note(first=first, last=end.date() if end else None, keep_over=keep_over_capacity)
        try:
            reports = asyncio.run(run())
        except DomainError as error:
            click.echo(f"refused: {error.message}", err=True)
            for booking in (error.details or {}).get("bookings", []):
                click.echo(f"  {booking['confirmation_code']} {booking['starts_at']}", err=True)
            raise SystemExit(1) from error
        entry.resource_ids.extend(f"location={code}" for code, _ in reports)
        entry.note(
            created=sum(report.created for _, report in reports),
            changed=sum(report.changed for _, report in reports),
            removed=sum(report.removed for _, report in reports),
            emptied=sum(report.emptied for _, report in reports),
            over_capacity=sum(len(report.over_capacity) for _, report in reports),
        )
        for code, report in reports:
            click.echo(
                f"{code}: {report.start}..{report.end} created {report.created}, "
                f"changed {report.changed}, removed {report.removed}, emptied {report.emptied}, "
                f"over capacity {len(report.over_capacity)}"
            )
