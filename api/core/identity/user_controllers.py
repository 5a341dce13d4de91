"""Administrators' routes for accounts (users.manage): create, change, unlock, grant roles."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.core.identity.accounts import utc_now
from api.core.identity.events import record_change
from api.core.identity.guards import PERMISSION
from api.core.identity.passwords import PasswordPolicy
from api.core.identity.permissions import Permission, is_administrator
from api.core.identity.schemas import (
    Account,
    AccountCreated,
    AccountCreateInput,
    AccountUpdateInput,
    PasswordResetInput,
    RoleGrantInput,
)
from api.core.identity.services import (
    AccountService,
    IdentityConflict,
    RoleService,
    generated_password,
)

MANAGE_USERS = {PERMISSION: Permission.USERS_MANAGE.value}


async def account_views(
    accounts: AccountService, roles: RoleService, items: list[Any]
) -> list[Account]:
    """Accounts as administrators see them, with their roles and permissions."""
    held = await accounts.role_ids_of([account.id for account in items])
    granted = await roles.permissions_by_role(sorted({r for ids in held.values() for r in ids}))
    now = utc_now()
    views: list[Account] = []
    for account in items:
        permissions = sorted({name for role_id in held[account.id] for name in granted[role_id]})
        locked = account.locked_until is not None and account.locked_until > now
        views.append(
            Account(
                id=account.id,
                login_id=account.login_id,
                display_name=account.display_name,
                disabled=account.disabled,
                locked=locked,
                locked_until=account.locked_until if locked else None,
                failed_attempts=account.failed_attempts,
                must_change_password=account.must_change_password,
                password_changed_at=account.password_changed_at,
                valid_from=account.valid_from,
                valid_until=account.valid_until,
                last_login_at=account.last_login_at,
                totp_enabled=account.totp_secret is not None,
                role_ids=held[account.id],
                permissions=permissions,
                administrator=is_administrator(permissions),
            )
        )
    return views


class UserController(Controller):
    """Staff accounts: create, change, unlock, disable and enable, grant roles."""

    path = "/api/staff/users"
    tags = ["staff administration"]
    opt = MANAGE_USERS

    async def _one(self, accounts: AccountService, roles: RoleService, account: Any) -> Account:
        return (await account_views(accounts, roles, [account]))[0]

    @get("/")
    async def list_users(
        self,
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
    ) -> list[Account]:
        """Every account of the zone, by login ID."""
        model = staff_accounts.tables.staff_account
        items = await staff_accounts.get_many(order_by=[(model.login_id, False)])
        return await account_views(staff_accounts, staff_roles, list(items))

    @post("/")
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AccountCreateInput],
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
        password_policy: NamedDependency[PasswordPolicy],
    ) -> AccountCreated:
        """Create an account; its initial password must be changed at first login."""
        password = data.initial_password or generated_password()
        account = await staff_accounts.create_account(
            login_id=data.login_id,
            display_name=data.display_name,
            password=password,
            policy=password_policy,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
        )
        if data.role_ids:
            await staff_accounts.set_roles(account, data.role_ids)
        await record_change(request, "account_created", data.login_id)
        return AccountCreated(
            account=await self._one(staff_accounts, staff_roles, account),
            initial_password=None if data.initial_password else password,
        )

    @get("/{account_id:int}")
    async def get_user(
        self,
        account_id: FromPath[int],
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
    ) -> Account:
        """One account."""
        account = await staff_accounts.get(account_id)
        return await self._one(staff_accounts, staff_roles, account)

    @patch("/{account_id:int}")
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        data: JSONBody[AccountUpdateInput],
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
    ) -> Account:
        """Change the display name or the validity dates (異動, retirement)."""
        account = await staff_accounts.get(account_id)
        changes = msgspec.structs.asdict(data)
        for field, value in changes.items():
            if value is not msgspec.UNSET:
                setattr(account, field, value)
        if (
            account.valid_from is not None
            and account.valid_until is not None
            and account.valid_from > account.valid_until
        ):
            message = "valid_from must not be after valid_until."
            raise IdentityConflict(message)
        await staff_accounts.session.flush()
        await record_change(request, "account_updated", account.login_id)
        return await self._one(staff_accounts, staff_roles, account)

    @post("/{account_id:int}/unlock", status_code=HTTP_204_NO_CONTENT)
    async def unlock_user(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        staff_accounts: NamedDependency[AccountService],
    ) -> None:
        """Lift a lockout."""
        account = await staff_accounts.get(account_id)
        await staff_accounts.unlock(account)
        await record_change(request, "account_unlocked", account.login_id)

    @post("/{account_id:int}/disable", status_code=HTTP_204_NO_CONTENT)
    async def disable_user(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        staff_accounts: NamedDependency[AccountService],
    ) -> None:
        """Disable an account: its sessions and tokens stop at their next request."""
        account = await staff_accounts.get(account_id)
        account.disabled = True
        await staff_accounts.session.flush()
        await staff_accounts.ensure_an_administrator_remains()
        await record_change(request, "account_disabled", account.login_id)

    @post("/{account_id:int}/enable", status_code=HTTP_204_NO_CONTENT)
    async def enable_user(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        staff_accounts: NamedDependency[AccountService],
    ) -> None:
        """Enable a disabled account again."""
        account = await staff_accounts.get(account_id)
        account.disabled = False
        await record_change(request, "account_enabled", account.login_id)

    @post("/{account_id:int}/password-reset")
    async def reset_password(
        self,
        *,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        data: JSONBody[PasswordResetInput],
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
        password_policy: NamedDependency[PasswordPolicy],
    ) -> AccountCreated:
        """Set a temporary password (changed at next login); the account's sessions end."""
        account = await staff_accounts.get(account_id)
        password = data.password or generated_password()
        await staff_accounts.set_password(
            account, password, policy=password_policy, must_change=True
        )
        await record_change(request, "password_reset", account.login_id)
        return AccountCreated(
            account=await self._one(staff_accounts, staff_roles, account),
            initial_password=None if data.password else password,
        )

    @delete("/{account_id:int}/totp")
    async def reset_totp(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        staff_accounts: NamedDependency[AccountService],
    ) -> None:
        """Remove an account's second factor (a lost phone); it enrols again."""
        account = await staff_accounts.get(account_id)
        account.totp_secret = None
        await record_change(request, "totp_reset", account.login_id)

    @put("/{account_id:int}/roles")
    async def grant_roles(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[int],
        data: JSONBody[RoleGrantInput],
        staff_accounts: NamedDependency[AccountService],
        staff_roles: NamedDependency[RoleService],
    ) -> Account:
        """Grant exactly these roles to the account (an explicit grant to a named user)."""
        account = await staff_accounts.get(account_id)
        await staff_accounts.set_roles(account, data.role_ids)
        await record_change(request, "roles_granted", account.login_id)
        return await self._one(staff_accounts, staff_roles, account)
