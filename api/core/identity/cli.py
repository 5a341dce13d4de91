"""``madoguchi <zone> users ...``: bootstrap the first administrator, unlock an account.

No default password exists anywhere: the first administrator chooses theirs (typed twice
at a hidden prompt, or read from stdin for scripts) and it must pass the password rules.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.database import create_sqlalchemy_config, resolve_database_url
from api.core.errors import DomainError
from api.core.identity.passwords import PasswordPolicy
from api.core.identity.permissions import ADMINISTRATOR_PERMISSIONS
from api.core.identity.services import AccountService, RoleService
from api.core.settings import Zone, ZoneSettings
from api.core.tables import CoreTables

ADMINISTRATOR_ROLE: Final = "administrators"
T = TypeVar("T")


def zone_tables(zone: Zone) -> CoreTables:
    """The zone's concrete shared tables (imported late: the zone's models import api.core)."""
    if zone is Zone.ISSUANCE:
        from api.issuance.models import CORE_TABLES  # noqa: PLC0415

        return CORE_TABLES
    from api.reservation.models import CORE_TABLES as RESERVATION_TABLES  # noqa: PLC0415

    return RESERVATION_TABLES


async def create_administrator(
    session: AsyncSession,
    tables: CoreTables,
    settings: ZoneSettings,
    *,
    login_id: str,
    display_name: str,
    password: str,
) -> Any:
    """Create an account holding the administrator role (made when missing); commit.

    The password is the administrator's own choice, so no change is forced at first login.
    """
    return await create_account_with_role(
        session,
        tables,
        settings,
        login_id=login_id,
        display_name=display_name,
        password=password,
        role_name=ADMINISTRATOR_ROLE,
        role_description="Manages staff accounts and settings.",
        permissions=ADMINISTRATOR_PERMISSIONS,
    )


async def create_account_with_role(
    session: AsyncSession,
    tables: CoreTables,
    settings: ZoneSettings,
    *,
    login_id: str,
    display_name: str,
    password: str,
    role_name: str,
    role_description: str,
    permissions: Iterable[str],
) -> Any:
    """Create an account (its own password: no forced change) holding one role; commit.

    The role is made with ``permissions`` when no role of that name exists yet.
    """
    accounts = AccountService.for_zone(session, tables)
    roles = RoleService.for_zone(session, tables)
    account = await accounts.create_account(
        login_id=login_id,
        display_name=display_name,
        password=password,
        policy=PasswordPolicy.from_settings(settings),
        must_change_password=False,
    )
    role = await roles.get_one_or_none(name=role_name)
    if role is None:
        role = await roles.create({"name": role_name, "description": role_description})
        await roles.set_permissions(role, permissions, settings)
    await accounts.set_roles(account, [role.id])
    await session.commit()
    return account


async def unlock_account(session: AsyncSession, tables: CoreTables, login_id: str) -> bool:
    """Lift a lockout from the command line (when the only administrator is locked); commit."""
    accounts = AccountService.for_zone(session, tables)
    account = await accounts.by_login_id(login_id)
    if account is None:
        return False
    await accounts.unlock(account)
    await session.commit()
    return True


def run_with_session(zone: Zone, work: Callable[[AsyncSession, ZoneSettings], Awaitable[T]]) -> T:
    """Run ``work`` with a session of the zone's database and its settings (for commands)."""
    # Imported here: zone_cli imports the app factories, which would import this module.
    from api.core.zone_cli import zone_settings  # noqa: PLC0415

    settings = zone_settings(zone)
    config = create_sqlalchemy_config(zone, resolve_database_url(settings), null_pool=True)

    async def main() -> T:
        async with config.get_session() as session:
            return await work(session, settings)

    return asyncio.run(main())


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def users_commands(zone: Zone) -> click.Group:
    """The ``users`` command group of a zone (mounted under ``madoguchi <zone>``)."""
    # Imported here: the audit package's command log reaches the zone apps through zone_cli.
    from api.core.audit.commands import logged_command  # noqa: PLC0415

    @click.group(name="users", help=f"Staff accounts of the {zone.value} zone.")
    def users() -> None:
        pass

    def run(work: Any) -> Any:
        return run_with_session(zone, work)

    @users.command(name="create-admin")
    @click.option("--login-id", required=True, help="The administrator's own login ID.")
    @click.option("--display-name", default="", help="Name shown in the staff console.")
    @click.option(
        "--password-stdin", is_flag=True, help="Read the password from stdin (for scripts)."
    )
    def create_admin(login_id: str, display_name: str, password_stdin: bool) -> None:
        """Create an administrator (the first one, or another) with a password of their choice."""
        password = _read_password(password_stdin)

        async def work(session: AsyncSession, settings: ZoneSettings) -> None:
            await create_administrator(
                session,
                zone_tables(zone),
                settings,
                login_id=login_id,
                display_name=display_name,
                password=password,
            )

        with logged_command(zone, "users create-admin") as entry:
            entry.resource_ids.append(login_id)
            try:
                run(work)
            except DomainError as error:
                entry.outcome = "refused"
                details = error.details if isinstance(error.details, list) else []
                click.echo(f"{zone.value}: {error.message}", err=True)
                for detail in details:
                    click.echo(f"  - {detail}", err=True)
                sys.exit(1)
        click.echo(f"{zone.value}: administrator {login_id} created")

    @users.command(name="unlock")
    @click.argument("login_id")
    def unlock(login_id: str) -> None:
        """Lift the lockout of an account."""

        async def work(session: AsyncSession, _: ZoneSettings) -> bool:
            return await unlock_account(session, zone_tables(zone), login_id)

        with logged_command(zone, "users unlock") as entry:
            entry.resource_ids.append(login_id)
            if not run(work):
                entry.outcome = "refused"
                click.echo(f"{zone.value}: no account {login_id}", err=True)
                sys.exit(1)
        click.echo(f"{zone.value}: {login_id} unlocked")

    return users
