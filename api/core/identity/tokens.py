"""Personal access tokens for API clients: shown once, stored as a SHA-256 hash.

A token carries a subset of its owner's permissions and never outlives or outranks the
owner: at every use the owner's state and current permissions are checked again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import func, select, update

from api.core.identity.accounts import utc_now
from api.core.identity.services import IdentityConflict, ZoneService
from api.core.tables import CoreTables

TOKEN_PREFIX: Final = "mdg_"  # noqa: S105 - a marker for secret scanners, not a secret
MAX_TOKEN_DAYS: Final = 366


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256, hex (the token has 256 random bits, no salt needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh token: a recognisable prefix and 32 random bytes."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenService(ZoneService):
    """Personal access tokens of staff accounts."""

    @classmethod
    def model_of(cls, tables: CoreTables) -> type[Any]:
        """The zone's access token table."""
        return tables.access_token

    async def issue(
        self,
        *,
        owner: Any,
        owner_permissions: frozenset[str],
        name: str,
        permissions: Iterable[str],
        days: int,
    ) -> tuple[Any, str]:
        """Make a token with ``permissions`` (all held by the owner); return it and its secret."""
        wanted = sorted(set(permissions))
        if not wanted:
            message = "A token needs at least one permission."
            raise IdentityConflict(message)
        if beyond := sorted(set(wanted) - owner_permissions):
            message = "A token cannot carry permissions its owner does not hold."
            raise IdentityConflict(message, details={"not_held": beyond})
        expires_at = utc_now() + dt.timedelta(days=min(days, MAX_TOKEN_DAYS))
        if owner.valid_until is not None:
            # Never outlive the account: end with the last day of its validity (UTC is enough).
            end = dt.datetime.combine(owner.valid_until, dt.time.max, tzinfo=dt.UTC)
            expires_at = min(expires_at, end)
        secret = new_token()
        token = await self.create(
            {
                "account_id": owner.id,
                "name": name,
                "token_hash": token_hash(secret),
                "permissions": wanted,
                "expires_at": expires_at,
            }
        )
        return token, secret

    async def owned_by(self, account_id: int) -> list[Any]:
        """The account's tokens, newest first (revoked and expired included)."""
        model = self.tables.access_token
        tokens, _ = await self.get_many_and_count(
            model.account_id == account_id, order_by=[(model.id, True)]
        )
        return list(tokens)

    async def revoke(self, account_id: int, token_id: int) -> bool:
        """Revoke one of the account's tokens; ``False`` when it has no such live token."""
        model = self.tables.access_token
        result = await self.session.execute(
            update(model)
            .where(model.id == token_id, model.account_id == account_id, model.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        return result.one_or_none() is not None

    async def usable(self, secret: str) -> tuple[Any, Any] | None:
        """The live token with this secret and its owner, marking it used; else ``None``."""
        model = self.tables.access_token
        owner = self.tables.staff_account
        row = (
            await self.session.execute(
                select(model, owner)
                .join(owner, owner.id == model.account_id)
                .where(
                    model.token_hash == token_hash(secret),
                    model.revoked_at.is_(None),
                    model.expires_at > func.now(),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        token, account = row
        token.last_used_at = utc_now()
        return token, account
