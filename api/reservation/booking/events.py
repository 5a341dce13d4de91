"""The booking package's adapter to the access log (``api.core.audit``).

Every resident password attempt and every phone booking is an explicit access-log event.
Failures, lockouts and staff actions are written with :func:`~api.core.audit.record_event`
(durable before the answer). Successful resident logins are queued to the access log's
batching writer instead: at the moment bookings open, thousands of residents log in at
once, and one serialized chain append per login (its own transaction and commit) would
cap logins at the rate of chain commits; batched, they reach the same chain moments
later, and the writer flushes its queue at shutdown. See README.md, "Access log".

An app built without the audit plugin cannot record: the event then goes to the
structured log instead, never silently nowhere.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request

from api.core.audit import record_event
from api.core.audit.events import AccessEvent, Actor
from api.core.audit.recorder import (
    RUNTIME_STATE_KEY,
    AccessLogRuntime,
    client_address_of,
    make_row,
    request_id_of,
)
from api.core.identity.guards import principal_of

logger = structlog.get_logger("madoguchi.booking")


def resident(reservation_id: str) -> Actor:
    """The access log's actor for a resident (by the reservation ID they typed)."""
    return Actor(kind="resident", name=reservation_id)


def staff_actor(request: Request[Any, Any, Any]) -> Actor:
    """The access log's actor for the member of staff making a request."""
    principal = principal_of(request)
    if principal is None:
        return Actor(kind="anonymous")
    return Actor(kind=principal.kind, name=principal.name, terminal=principal.terminal)


def _runtime(
    request: Request[Any, Any, Any], outcome: str, actor: Actor
) -> AccessLogRuntime | None:
    runtime = request.app.state.get(RUNTIME_STATE_KEY)
    if isinstance(runtime, AccessLogRuntime):
        return runtime
    logger.warning("access_log_unavailable", outcome=outcome, actor=actor.name, kind=actor.kind)
    return None


async def record(
    request: Request[Any, Any, Any],
    outcome: str,
    actor: Actor,
    *,
    resource_ids: tuple[str, ...] = (),
    detail: dict[str, str] | None = None,
) -> None:
    """Append one event to the access log (durable before this returns)."""
    if _runtime(request, outcome, actor) is None:
        return
    event = AccessEvent(
        outcome=outcome, actor=actor, resource_ids=resource_ids, detail=detail or {}
    )
    await record_event(request, event)


async def record_queued(request: Request[Any, Any, Any], outcome: str, actor: Actor) -> None:
    """Queue one event for the access log's batching writer (durable moments later)."""
    runtime = _runtime(request, outcome, actor)
    if runtime is None:
        return
    scope = request.scope
    await runtime.writer.submit(
        make_row(
            zone=runtime.zone,
            actor=actor,
            client_address=client_address_of(scope),
            method=scope.get("method", "EVENT"),
            route=scope.get("path_template") or scope.get("path", ""),
            outcome=outcome,
            request_id=request_id_of(scope),
        )
    )
