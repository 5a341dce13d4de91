"""Staff login: password, lockout, validity, second factor; every attempt goes to the access log.

An unknown login ID, a wrong password and a locked account get the same answer and take
the same time: a distinct "locked" answer would tell whoever guesses five times that the
login ID exists. The access log keeps the real reason. The failure count is committed
before the answer, so a rolled-back request cannot undo it.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from api.core.audit.events import Actor
from api.core.errors import DomainError
from api.core.identity.accounts import (
    Principal,
    Refusal,
    password_change_required,
    refusal,
    utc_now,
)
from api.core.identity.events import record
from api.core.identity.passwords import (
    hash_password_off_loop,
    needs_rehash,
    verify_password_off_loop,
)
from api.core.identity.permissions import is_administrator
from api.core.identity.schemas import LoginInput
from api.core.identity.services import AccountService
from api.core.identity.totp import matching_step, open_totp_secret
from api.core.settings import ZoneSettings


class LoginFailed(DomainError):
    """Wrong login ID, password or code, or a locked account: one answer for all."""

    status_code = 401
    code = "login_failed"

    def __init__(self) -> None:
        super().__init__(
            "The login ID or the password is wrong, or the account is locked after too many "
            "failed logins; wait, or ask an administrator to unlock it."
        )


class SecondFactorRequired(DomainError):
    """The password was right; the account also needs its TOTP code."""

    status_code = 401
    code = "totp_required"

    def __init__(self) -> None:
        super().__init__("Enter the code from your authenticator app.")


class AccountUnavailable(DomainError):
    """The account exists but may not log in now (locked, disabled, outside its validity)."""

    status_code = 403

    def __init__(self, reason: Refusal) -> None:
        messages = {
            Refusal.LOCKED: "The account is locked after too many failed logins; "
            "wait, or ask an administrator to unlock it.",
            Refusal.DISABLED: "The account is disabled; ask an administrator.",
            Refusal.NOT_YET_VALID: "The account is not valid yet.",
            Refusal.NO_LONGER_VALID: "The account is no longer valid.",
        }
        super().__init__(messages[reason], details={"reason": reason.value})
        self.code = "account_locked" if reason is Refusal.LOCKED else "account_unavailable"


class LoginAttempt:
    """One login attempt of one request: checks in order, logs the outcome, raises refusals."""

    def __init__(
        self,
        connection: ASGIConnection[Any, Any, Any, Any],
        accounts: AccountService,
        settings: ZoneSettings,
        terminal: str | None,
    ) -> None:
        self.connection = connection
        self.accounts = accounts
        self.settings = settings
        self.terminal = terminal

    def _actor(self, login_id: str) -> Actor:
        return Actor(kind="staff", name=login_id[:64], terminal=self.terminal)

    async def _failed(self, account: Any, reason: str) -> LoginFailed | AccountUnavailable:
        counted = await self.accounts.record_failure(account.id, self.settings)
        await self.accounts.session.commit()
        actor = self._actor(account.login_id)
        if counted is None:
            # Locked by a parallel attempt meanwhile: answered like any failure.
            await record(self.connection, "login_refused", actor=actor, detail={"reason": "locked"})
            return LoginFailed()
        attempts, locked = counted
        detail = {"reason": reason, "failed_attempts": str(attempts)}
        await record(
            self.connection, "locked_out" if locked else "login_failed", actor=actor, detail=detail
        )
        return LoginFailed()

    async def run(self, data: LoginInput) -> tuple[Any, Principal]:
        """Check the attempt; return the account and its principal, or raise the refusal."""
        login_id = data.login_id.strip()
        account = await self.accounts.by_login_id(login_id)
        if account is None:
            # The same work, off the event loop too, as for a real account.
            await verify_password_off_loop(None, data.password)
            await record(
                self.connection,
                "login_failed",
                actor=self._actor(login_id),
                detail={"reason": "unknown_login_id"},
            )
            raise LoginFailed
        actor = self._actor(account.login_id)
        now = utc_now()
        if account.locked_until is not None and account.locked_until > now:
            # The password is not checked, so a locked account cannot be probed further; the
            # same work as for an unknown ID keeps the answer's time the same too.
            await verify_password_off_loop(None, data.password)
            await record(self.connection, "login_refused", actor=actor, detail={"reason": "locked"})
            raise LoginFailed
        if not await verify_password_off_loop(account.password_hash, data.password):
            raise await self._failed(account, "wrong_password")
        # Only who knows the password learns that the account is disabled or out of date.
        if (reason := refusal(account, now=now, settings=self.settings)) is not None:
            await record(self.connection, "login_refused", actor=actor, detail={"reason": reason})
            raise AccountUnavailable(reason)
        if account.totp_secret:
            if not data.totp:
                await record(
                    self.connection, "login_failed", actor=actor, detail={"reason": "totp_missing"}
                )
                raise SecondFactorRequired
            step = matching_step(open_totp_secret(self.settings, account.totp_secret), data.totp)
            if step is None:
                raise await self._failed(account, "wrong_totp")
            if not await self.accounts.use_totp_step(account.id, step):
                raise await self._failed(account, "totp_reused")
        if not await self.accounts.record_success(account.id):
            # Locked by a parallel guess meanwhile: a different answer would confirm this
            # password to whoever made both guesses.
            await record(self.connection, "login_refused", actor=actor, detail={"reason": "locked"})
            raise LoginFailed
        if needs_rehash(account.password_hash):
            account.password_hash = await hash_password_off_loop(data.password)
        permissions = await self.accounts.permissions_of(account.id)
        principal = Principal(
            kind="staff",
            name=account.login_id,
            terminal=self.terminal,
            account_id=account.id,
            display_name=account.display_name,
            permissions=permissions,
            password_change_required=password_change_required(
                account, now=now, settings=self.settings
            ),
            totp_enrolment_required=(
                self.settings.require_totp_for_administrators
                and is_administrator(permissions)
                and not account.totp_secret
            ),
        )
        detail = {}
        if principal.password_change_required:
            detail["must_change_password"] = (
                "first_login" if account.must_change_password else "expired"
            )
        if principal.totp_enrolment_required:
            detail["totp_enrolment_required"] = "yes"
        await record(self.connection, "login_succeeded", actor=actor, detail=detail)
        return account, principal
