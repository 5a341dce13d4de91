"""The access log's contract with the rest of the code (implemented in this package).

Two ways in:
- every request to a staff route is recorded by the access-log middleware, which reads
  who made it from ``scope["user"]`` (a :class:`Actor`) after the response;
- explicit events (every login attempt of staff and residents, success or failure, and
  other security events) are recorded by awaiting :func:`record_event`.
"""

from __future__ import annotations

import msgspec


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts: a staff login id, a resident's reservation_id, or an API token's owner."""

    kind: str  # "staff", "token", "resident" or "anonymous"
    name: str | None = None
    terminal: str | None = None


class AccessEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One explicit access-log event (a login attempt, a lockout, a refusal)."""

    outcome: str  # e.g. "login_succeeded", "login_failed", "locked_out", "refused_network"
    actor: Actor
    resource_ids: tuple[str, ...] = ()
    detail: dict[str, str] = msgspec.field(default_factory=dict)
