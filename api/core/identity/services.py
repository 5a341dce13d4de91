"""Repository services over one zone's staff tables (accounts, roles, terminals).

The tables are declared once as mixins and bound into each zone's own database, so a
service is bound to a zone's concrete model when it is made: ``AccountService.for_zone``.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Self, cast

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import and_, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.core.identity.accounts import LOCKED_UNTIL_UNLOCKED, utc_now
from api.core.identity.passwords import (
    PasswordPolicy,
    hash_password_off_loop,
    password_problems_off_loop,
    verify_password_off_loop,
)
from api.core.identity.permissions import Permission, unknown_permissions
from api.core.identity.terminals import canonical_fingerprint
from api.core.settings import ZoneSettings
from api.core.tables import CoreTables


class PasswordRejected(DomainError):
    """The new password breaks the password rules (the details list every broken rule)."""

    status_code = 422
    code = "password_rejected"


class IdentityConflict(DomainError):
    """A change that would break a rule of accounts or roles."""

    status_code = 409
    code = "conflict"


@functools.cache
def _bound_service(service: Any, model: Any) -> Any:
    repository = type(
        f"{model.__name__}Repository", (SQLAlchemyAsyncRepository,), {"model_type": model}
    )
    return type(f"{model.__name__}{service.__name__}", (service,), {"repository_type": repository})


class ZoneService(SQLAlchemyAsyncRepositoryService[Any]):
    """A repository service bound to one zone's concrete table of a shared mixin."""

    def __init__(self, session: AsyncSession, *, tables: CoreTables, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.session = session
        # The zone's concrete classes: typed loosely, as the mixins do not declare ``id``.
        self.tables: Any = tables

    @classmethod
    def model_of(cls, tables: CoreTables) -> type[Any]:
        """The zone's model this service works on."""
        raise NotImplementedError

    @classmethod
    def for_zone(cls, session: AsyncSession, tables: CoreTables) -> Self:
        """The service working on ``tables`` (one zone's database) through ``session``."""
        bound: type[Self] = _bound_service(
            cast("Hashable", cls), cast("Hashable", cls.model_of(tables))
        )
        return bound(session, tables=tables)


def generated_password() -> str:
    """A random initial password (shown once; the user must change it at first login)."""
    return secrets.token_urlsafe(15)


class AccountService(ZoneService):
    """Staff accounts: creation, passwords, lockout, validity, roles."""

    @classmethod
    def model_of(cls, tables: CoreTables) -> type[Any]:
        """The zone's staff account table."""
        return tables.staff_account

    async def by_login_id(self, login_id: str) -> Any | None:
        """The account with this login ID, or ``None``."""
        return await self.get_one_or_none(self.tables.staff_account.login_id == login_id)

    async def earlier_hashes(self, account: Any) -> list[str]:
        """The account's current and earlier password hashes, newest first."""
        history = self.tables.password_history
        rows = await self.session.scalars(
            select(history.password_hash)
            .where(history.account_id == account.id)
            .order_by(history.id.desc())
        )
        return [account.password_hash, *rows]

    async def create_account(
        self,
        *,
        login_id: str,
        display_name: str,
        password: str,
        policy: PasswordPolicy,
        must_change_password: bool = True,
        **fields: Any,
    ) -> Any:
        """Create an account whose password passes the rules; refuse a taken login ID."""
        if await self.by_login_id(login_id) is not None:
            message = f"The login ID {login_id!r} is taken."
            raise IdentityConflict(message)
        problems = await password_problems_off_loop(password, login_id=login_id, policy=policy)
        if problems:
            raise PasswordRejected("The password breaks the password rules.", details=problems)
        password_hash = await hash_password_off_loop(password)
        return await self.create(
            {
                "login_id": login_id,
                "display_name": display_name,
                "password_hash": password_hash,
                "must_change_password": must_change_password,
                "password_changed_at": utc_now(),
                "failed_attempts": 0,
                "disabled": False,
                **fields,
            }
        )

    async def set_password(
        self, account: Any, password: str, *, policy: PasswordPolicy, must_change: bool
    ) -> None:
        """Give the account a new password that passes the rules; keep the old hash in history.

        Changing ``password_changed_at`` also ends the account's other sessions.
        """
        problems = await password_problems_off_loop(
            password,
            login_id=account.login_id,
            policy=policy,
            earlier_hashes=await self.earlier_hashes(account),
        )
        if problems:
            raise PasswordRejected("The password breaks the password rules.", details=problems)
        history = self.tables.password_history
        self.session.add(history(account_id=account.id, password_hash=account.password_hash))
        account.password_hash = await hash_password_off_loop(password)
        account.password_changed_at = utc_now()
        account.must_change_password = must_change
        await self.session.flush()
        # Keep only what the rule needs: the oldest hashes are of no further use.
        keep = select(history.id).where(history.account_id == account.id)
        keep = keep.order_by(history.id.desc()).limit(max(policy.history, 1))
        await self.session.execute(
            delete(history).where(history.account_id == account.id, history.id.not_in(keep))
        )

    async def change_own_password(
        self, account: Any, *, current: str, new: str, policy: PasswordPolicy
    ) -> None:
        """Change a user's own password after checking the current one."""
        if not await verify_password_off_loop(account.password_hash, current):
            raise PasswordRejected("The current password is wrong.", details=[])
        await self.set_password(account, new, policy=policy, must_change=False)

    async def record_failure(
        self, account_id: int, settings: ZoneSettings
    ) -> tuple[int, bool] | None:
        """Count one failed login and lock at the threshold, in ONE atomic UPDATE.

        Returns the new count and whether the account is now locked, or ``None`` when the
        account was already locked (a parallel attempt locked it first): the row lock and
        PostgreSQL's re-check of the WHERE clause keep the count from passing the threshold.
        """
        model = self.tables.staff_account
        now = func.now()
        # A lock that has lapsed starts a new count; SET sees the row's old values throughout.
        lapsed = and_(model.locked_until.is_not(None), model.locked_until <= now)
        attempts = case((lapsed, 1), else_=model.failed_attempts + 1)
        minutes = settings.staff_lockout_minutes
        lock_end: Any = (
            now + dt.timedelta(minutes=minutes) if minutes else literal(LOCKED_UNTIL_UNLOCKED)
        )
        statement = (
            update(model)
            .where(
                model.id == account_id,
                or_(model.locked_until.is_(None), model.locked_until <= now),
            )
            .values(
                failed_attempts=attempts,
                locked_until=case(
                    (attempts >= settings.staff_lockout_threshold, lock_end), else_=None
                ),
            )
            .returning(model.failed_attempts, model.locked_until)
            .execution_options(synchronize_session=False)
        )
        row = (await self.session.execute(statement)).one_or_none()
        if row is None:
            return None
        return int(row[0]), row[1] is not None

    async def record_success(self, account_id: int) -> bool:
        """Reset the failure count at a successful login, unless the account got locked meanwhile.

        Returns whether the login may proceed (one atomic UPDATE, like the failure count).
        """
        model = self.tables.staff_account
        statement = (
            update(model)
            .where(
                model.id == account_id,
                or_(model.locked_until.is_(None), model.locked_until <= func.now()),
            )
            .values(failed_attempts=0, locked_until=None, last_login_at=func.now())
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).one_or_none() is not None

    async def use_totp_step(self, account_id: int, step: int) -> bool:
        """Spend a TOTP time step: true once per step, false for a code already used.

        One atomic UPDATE, so two logins racing with the same code cannot both pass.
        """
        model = self.tables.staff_account
        statement = (
            update(model)
            .where(
                model.id == account_id,
                or_(model.totp_last_step.is_(None), model.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).one_or_none() is not None

    async def unlock(self, account: Any) -> None:
        """Lift a lock and forget the failed attempts (an administrator's action)."""
        account.failed_attempts = 0
        account.locked_until = None
        await self.session.flush()

    async def permissions_of(self, account_id: int) -> frozenset[str]:
        """Every permission the account's roles grant."""
        granted = self.tables.role_permission
        held = self.tables.account_role
        rows = await self.session.scalars(
            select(granted.permission)
            .join(held, held.role_id == granted.role_id)
            .where(held.account_id == account_id)
            .distinct()
        )
        return frozenset(rows)

    async def role_ids_of(self, account_ids: Sequence[int]) -> dict[int, list[int]]:
        """The roles held by each of the accounts."""
        held = self.tables.account_role
        rows = await self.session.execute(
            select(held.account_id, held.role_id)
            .where(held.account_id.in_(account_ids))
            .order_by(held.role_id)
        )
        roles: dict[int, list[int]] = {account_id: [] for account_id in account_ids}
        for account_id, role_id in rows:
            roles[account_id].append(role_id)
        return roles

    async def set_roles(self, account: Any, role_ids: Iterable[int]) -> None:
        """Grant exactly these roles to the account (an explicit grant to a named user)."""
        wanted = set(role_ids)
        role = self.tables.role
        found = set(await self.session.scalars(select(role.id).where(role.id.in_(wanted))))
        if missing := sorted(wanted - found):
            message = "Some roles do not exist."
            raise IdentityConflict(message, details={"missing_role_ids": missing})
        held = self.tables.account_role
        await self.session.execute(delete(held).where(held.account_id == account.id))
        self.session.add_all(held(account_id=account.id, role_id=role_id) for role_id in wanted)
        await self.session.flush()
        await self.ensure_an_administrator_remains()

    async def ensure_an_administrator_remains(self) -> None:
        """Refuse a change that leaves no enabled account able to manage users."""
        account = self.tables.staff_account
        held = self.tables.account_role
        granted = self.tables.role_permission
        count: int | None = await self.session.scalar(
            select(func.count(func.distinct(account.id)))
            .join(held, held.account_id == account.id)
            .join(granted, granted.role_id == held.role_id)
            .where(account.disabled.is_(False), granted.permission == Permission.USERS_MANAGE)
        )
        if not count:
            message = "At least one enabled account must keep the users.manage permission."
            raise IdentityConflict(message)


class RoleService(ZoneService):
    """Roles: named groups of permissions that administrators edit."""

    @classmethod
    def model_of(cls, tables: CoreTables) -> type[Any]:
        """The zone's role table."""
        return tables.role

    async def permissions_by_role(self, role_ids: Sequence[int]) -> dict[int, list[str]]:
        """The permissions of each role, sorted."""
        granted = self.tables.role_permission
        rows = await self.session.execute(
            select(granted.role_id, granted.permission)
            .where(granted.role_id.in_(role_ids))
            .order_by(granted.permission)
        )
        permissions: dict[int, list[str]] = {role_id: [] for role_id in role_ids}
        for role_id, permission in rows:
            permissions[role_id].append(permission)
        return permissions

    async def set_permissions(
        self, role: Any, permissions: Iterable[str], settings: ZoneSettings
    ) -> None:
        """Make the role grant exactly these permissions of the zone."""
        wanted = set(permissions)
        if unknown := unknown_permissions(settings.zone, wanted):
            message = f"Not permissions of the {settings.zone.value} zone: {', '.join(unknown)}"
            raise IdentityConflict(message, details={"unknown_permissions": unknown})
        granted = self.tables.role_permission
        await self.session.execute(delete(granted).where(granted.role_id == role.id))
        self.session.add_all(granted(role_id=role.id, permission=name) for name in sorted(wanted))
        await self.session.flush()


class TerminalService(ZoneService):
    """Registered office terminals, known by their client-certificate fingerprint."""

    @classmethod
    def model_of(cls, tables: CoreTables) -> type[Any]:
        """The zone's registered terminal table."""
        return tables.registered_terminal

    async def register(self, *, name: str, fingerprint: str, active: bool = True) -> Any:
        """Register a terminal by its fingerprint (hex, colons allowed); flush, not commit.

        A malformed fingerprint is refused, and so is one registered already: the unique
        index decides in the INSERT itself, so of two registrations at once one wins.
        """
        canonical = canonical_fingerprint(fingerprint)
        if canonical is None:
            message = "The fingerprint must be 40 to 128 hexadecimal digits."
            raise IdentityConflict(message)
        model = self.tables.registered_terminal
        terminal = await self.session.scalar(
            insert(model)
            .values(name=name, fingerprint=canonical, active=active)
            .on_conflict_do_nothing(index_elements=[model.fingerprint])
            .returning(model)
        )
        if terminal is None:
            message = "A terminal with this fingerprint is registered."
            raise IdentityConflict(message, details={"fingerprint": canonical})
        return terminal

    async def active_by_fingerprint(self, fingerprint: str) -> Any | None:
        """The active terminal with this (canonical) fingerprint, or ``None``."""
        model = self.tables.registered_terminal
        return await self.get_one_or_none(model.fingerprint == fingerprint, model.active.is_(True))
