"""Security events of staff identity, written through the access log's contract."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection

from api.core.audit import record_event
from api.core.audit.events import AccessEvent, Actor


async def record(
    connection: ASGIConnection[Any, Any, Any, Any],
    outcome: str,
    *,
    actor: Actor,
    detail: dict[str, str] | None = None,
    resource_ids: tuple[str, ...] = (),
) -> None:
    """Append one event (a login attempt, a refusal) to the access log and wait until durable."""
    request: Request[Any, Any, Any] = (
        connection
        if isinstance(connection, Request)
        else Request(connection.scope, connection.receive)
    )
    await record_event(
        request,
        AccessEvent(outcome=outcome, actor=actor, detail=detail or {}, resource_ids=resource_ids),
    )


async def record_change(
    connection: ASGIConnection[Any, Any, Any, Any], outcome: str, resource: object
) -> None:
    """Log an administrator's change to accounts, roles or terminals (a security event)."""
    user = connection.scope.get("user")
    actor = user if isinstance(user, Actor) else Actor(kind="anonymous")
    await record(connection, outcome, actor=actor, resource_ids=(str(resource),))
