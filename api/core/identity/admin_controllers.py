"""Administrators' routes (users.manage): roles, terminals, the account review report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from api.core.identity.accounts import utc_now
from api.core.identity.deps import IdentityContext
from api.core.identity.events import record_change
from api.core.identity.permissions import (
    ADMINISTRATOR_PERMISSIONS,
    is_administrator,
    zone_permissions,
)
from api.core.identity.review import account_review, review_csv
from api.core.identity.schemas import (
    PermissionInfo,
    ReviewReport,
    Role,
    RoleInput,
    RoleUpdateInput,
    Terminal,
    TerminalInput,
    TerminalUpdateInput,
)
from api.core.identity.services import (
    AccountService,
    IdentityConflict,
    RoleService,
    TerminalService,
)
from api.core.identity.user_controllers import MANAGE_USERS, UserController


async def _role_view(roles: RoleService, role: Any) -> Role:
    permissions = (await roles.permissions_by_role([role.id]))[role.id]
    return Role(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=permissions,
        administrator=is_administrator(permissions),
    )


class RoleController(Controller):
    """Roles: named groups of permissions."""

    path = "/api/staff/roles"
    tags = ["staff administration"]
    opt = MANAGE_USERS

    @get("/")
    async def list_roles(self, staff_roles: NamedDependency[RoleService]) -> list[Role]:
        """Every role with its permissions."""
        items = list(await staff_roles.get_many(order_by=[(staff_roles.tables.role.name, False)]))
        granted = await staff_roles.permissions_by_role([role.id for role in items])
        return [
            Role(
                id=role.id,
                name=role.name,
                description=role.description,
                permissions=granted[role.id],
                administrator=is_administrator(granted[role.id]),
            )
            for role in items
        ]

    @get("/permissions")
    async def list_permissions(
        self, identity: NamedDependency[IdentityContext]
    ) -> list[PermissionInfo]:
        """The permissions a role of this zone can grant."""
        return [
            PermissionInfo(
                name=permission.value, administrator=permission in ADMINISTRATOR_PERMISSIONS
            )
            for permission in sorted(zone_permissions(identity.settings.zone))
        ]

    @post("/")
    async def create_role(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RoleInput],
        staff_roles: NamedDependency[RoleService],
        identity: NamedDependency[IdentityContext],
    ) -> Role:
        """Create a role granting some permissions."""
        if await staff_roles.get_one_or_none(name=data.name) is not None:
            message = f"The role {data.name!r} exists."
            raise IdentityConflict(message)
        role = await staff_roles.create({"name": data.name, "description": data.description})
        await staff_roles.set_permissions(role, data.permissions, identity.settings)
        await record_change(request, "role_created", data.name)
        return await _role_view(staff_roles, role)

    @get("/{role_id:int}")
    async def get_role(
        self, role_id: FromPath[int], staff_roles: NamedDependency[RoleService]
    ) -> Role:
        """One role."""
        return await _role_view(staff_roles, await staff_roles.get(role_id))

    @patch("/{role_id:int}")
    async def update_role(
        self,
        *,
        request: Request[Any, Any, Any],
        role_id: FromPath[int],
        data: JSONBody[RoleUpdateInput],
        staff_roles: NamedDependency[RoleService],
        staff_accounts: NamedDependency[AccountService],
        identity: NamedDependency[IdentityContext],
    ) -> Role:
        """Rename a role or change what it grants (holders gain or lose it at once)."""
        role = await staff_roles.get(role_id)
        if data.name is not msgspec.UNSET:
            role.name = data.name
        if data.description is not msgspec.UNSET:
            role.description = data.description
        if data.permissions is not msgspec.UNSET:
            await staff_roles.set_permissions(role, data.permissions, identity.settings)
            await staff_accounts.ensure_an_administrator_remains()
        await staff_roles.session.flush()
        await record_change(request, "role_updated", role.name)
        return await _role_view(staff_roles, role)

    @delete("/{role_id:int}")
    async def delete_role(
        self,
        request: Request[Any, Any, Any],
        role_id: FromPath[int],
        staff_roles: NamedDependency[RoleService],
        staff_accounts: NamedDependency[AccountService],
    ) -> None:
        """Delete a role; its holders lose what it granted."""
        role = await staff_roles.delete(role_id)
        await staff_accounts.ensure_an_administrator_remains()
        await record_change(request, "role_deleted", role.name)


def _terminal_view(terminal: Any) -> Terminal:
    return Terminal(
        id=terminal.id,
        name=terminal.name,
        fingerprint=terminal.fingerprint,
        active=terminal.active,
        created_at=terminal.created_at,
    )


class TerminalController(Controller):
    """Registered office terminals (client-certificate fingerprints)."""

    path = "/api/staff/terminals"
    tags = ["staff administration"]
    opt = MANAGE_USERS

    @get("/")
    async def list_terminals(
        self, registered_terminals: NamedDependency[TerminalService]
    ) -> list[Terminal]:
        """Every registered terminal."""
        model = registered_terminals.tables.registered_terminal
        items = await registered_terminals.get_many(order_by=[(model.name, False)])
        return [_terminal_view(terminal) for terminal in items]

    @post("/")
    async def register_terminal(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[TerminalInput],
        registered_terminals: NamedDependency[TerminalService],
    ) -> Terminal:
        """Register a terminal by its certificate fingerprint (hex, colons allowed)."""
        terminal = await registered_terminals.register(
            name=data.name, fingerprint=data.fingerprint, active=data.active
        )
        await record_change(request, "terminal_registered", data.name)
        return _terminal_view(terminal)

    @patch("/{terminal_id:int}")
    async def update_terminal(
        self,
        request: Request[Any, Any, Any],
        terminal_id: FromPath[int],
        data: JSONBody[TerminalUpdateInput],
        registered_terminals: NamedDependency[TerminalService],
    ) -> Terminal:
        """Rename a terminal, or take it out of (or back into) service."""
        terminal = await registered_terminals.get(terminal_id)
        if data.name is not msgspec.UNSET:
            terminal.name = data.name
        if data.active is not msgspec.UNSET:
            terminal.active = data.active
        await registered_terminals.session.flush()
        await record_change(request, "terminal_updated", terminal.name)
        return _terminal_view(terminal)

    @delete("/{terminal_id:int}")
    async def remove_terminal(
        self,
        request: Request[Any, Any, Any],
        terminal_id: FromPath[int],
        registered_terminals: NamedDependency[TerminalService],
    ) -> None:
        """Remove a terminal's registration."""
        terminal = await registered_terminals.delete(terminal_id)
        await record_change(request, "terminal_removed", terminal.name)


ExpiringWithin = Annotated[int, Parameter(ge=1, le=366, description="Days ahead for validity")]


class AccountReviewController(Controller):
    """The account review report for personnel changes."""

    path = "/api/staff/review"
    tags = ["staff administration"]
    opt = MANAGE_USERS

    @get("/")
    async def review(
        self,
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
        identity: NamedDependency[IdentityContext],
        expiring_within_days: FromQuery[ExpiringWithin] = 30,
    ) -> ReviewReport:
        """Accounts dormant, ending, administrative or with old passwords (JSON)."""
        return await account_review(
            staff_accounts,
            staff_roles,
            now=utc_now(),
            settings=identity.settings,
            expiring_within_days=expiring_within_days,
        )

    @get("/csv", media_type="text/csv")
    async def review_as_csv(
        self,
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
        identity: NamedDependency[IdentityContext],
        expiring_within_days: FromQuery[ExpiringWithin] = 30,
    ) -> Response[str]:
        """The same report as CSV, for the personnel office's spreadsheet."""
        report = await account_review(
            staff_accounts,
            staff_roles,
            now=utc_now(),
            settings=identity.settings,
            expiring_within_days=expiring_within_days,
        )
        stamp = dt.datetime.now(identity.settings.tz).strftime("%Y%m%d")
        filename = f"account-review-{identity.settings.zone.value}-{stamp}.csv"
        return Response(
            review_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


ADMIN_CONTROLLERS = (UserController, RoleController, TerminalController, AccountReviewController)
