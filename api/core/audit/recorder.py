"""Writing entries: the batching writer for requests, and :func:`record_event` for events.

Request entries go through a bounded queue that one background task drains in batches
(one transaction, one advisory-lock wait and one commit per batch instead of per
request); the queue is flushed at shutdown. When the database is slow the queue fills
and requests wait for room rather than entries being dropped. Explicit events (login
attempts) are written in their own transaction and awaited: they are durable before the
caller answers, whatever becomes of the request's own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.types import Scope
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.core.audit.events import AccessEvent, Actor
from api.core.audit.models import AccessLogMixin
from api.core.identity.terminals import client_address
from api.core.settings import Network

logger = logging.getLogger(__name__)

RUNTIME_STATE_KEY: Final = "access_log"
ANONYMOUS: Final = Actor(kind="anonymous")
# Column widths of the table: a value too long would fail the whole batch it is in.
_LIMITS: Final = {
    "zone": 16,
    "actor": 64,
    "actor_kind": 16,
    "terminal": 128,
    "client_address": 64,
    "method": 16,
    "outcome": 32,
    "request_id": 64,
}
_MAX_RESOURCE_IDS: Final = 32
_MAX_TEXT: Final = 2000
Row = dict[str, Any]


def _clean(value: object, limit: int = _MAX_TEXT) -> str:
    # PostgreSQL text cannot hold NUL; everything else is kept, cut to the column's width.
    return str(value).replace("\x00", "\ufffd")[:limit]


def _clean_optional(value: object | None, limit: int = _MAX_TEXT) -> str | None:
    return None if value is None else _clean(value, limit)


def make_row(
    *,
    zone: str,
    actor: Actor,
    client_address: str | None,
    method: str,
    route: str,
    outcome: str,
    resource_ids: Sequence[str] = (),
    status: int | None = None,
    duration_ms: int | None = None,
    request_id: str | None = None,
    detail: Mapping[str, str] | None = None,
    occurred_at: dt.datetime | None = None,
) -> Row:
    """One insertable row; the database fills ``sequence``, ``previous_hash``, ``entry_hash``."""
    return {
        "occurred_at": occurred_at or dt.datetime.now(dt.UTC),
        "zone": _clean(zone, _LIMITS["zone"]),
        "actor": _clean_optional(actor.name, _LIMITS["actor"]),
        "actor_kind": _clean(actor.kind, _LIMITS["actor_kind"]),
        "terminal": _clean_optional(actor.terminal, _LIMITS["terminal"]),
        "client_address": _clean_optional(client_address, _LIMITS["client_address"]),
        "method": _clean(method, _LIMITS["method"]),
        "route": _clean(route),
        "resource_ids": [_clean(item) for item in resource_ids[:_MAX_RESOURCE_IDS]],
        "outcome": _clean(outcome, _LIMITS["outcome"]),
        "status": status,
        "duration_ms": duration_ms,
        "request_id": _clean_optional(request_id, _LIMITS["request_id"]),
        "detail": {_clean(key): _clean(value) for key, value in (detail or {}).items()},
    }


def actor_of(scope: Scope) -> Actor:
    """The actor the authentication middleware left in ``scope["user"]`` (anonymous if none)."""
    user = scope.get("user")
    if isinstance(user, Actor):
        return user
    if user is None:
        return ANONYMOUS
    # Not the agreed type: keep what can be read rather than lose the entry.
    return Actor(
        kind=str(getattr(user, "kind", "unknown")),
        name=getattr(user, "name", None),
        terminal=getattr(user, "terminal", None),
    )


def client_address_of(scope: Scope) -> str | None:
    """The client's address: the peer's, or behind the zone's trusted proxy the one it appended.

    The trusted proxies are those of the app's access-log runtime (the zone's settings);
    an app without one believes no proxy.
    """
    app = scope.get("app")
    runtime = app.state.get(RUNTIME_STATE_KEY) if app is not None else None
    trusted = runtime.trusted_proxies if isinstance(runtime, AccessLogRuntime) else ()
    return client_address(scope, trusted)


def request_id_of(scope: Scope) -> str | None:
    """The id the request-logging middleware gave the request."""
    state = scope.get("state") or {}
    request_id = state.get("request_id")
    return str(request_id) if request_id is not None else None


class AccessLogWriter:
    """Appends rows to one zone's access log: batched from a queue, or at once."""

    def __init__(
        self,
        engine: AsyncEngine,
        model: type[AccessLogMixin],
        *,
        queue_size: int = 10_000,
        batch_size: int = 500,
        gather_seconds: float = 0.05,
    ) -> None:
        self.engine = engine
        self.model = model
        self.batch_size = batch_size
        self.gather_seconds = gather_seconds
        self._queue: asyncio.Queue[Row] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._statement = insert(model.__table__)  # type: ignore[attr-defined]

    async def write_now(self, rows: Sequence[Row]) -> None:
        """Insert rows in one committed transaction; return once they are durable."""
        async with self.engine.begin() as connection:
            await connection.execute(self._statement, list(rows))

    async def submit(self, row: Row) -> None:
        """Queue a row for the background writer; wait for room when the queue is full."""
        if self._task is None:
            # Not started (e.g. an app used without its lifespan): write synchronously.
            await self.write_now([row])
            return
        await self._queue.put(row)

    def start(self) -> None:
        """Start the background task that drains the queue."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name="access-log-writer"
            )

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Flush what is queued, then stop; rows that cannot be written are logged, not lost."""
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace_seconds)
        except TimeoutError:
            logger.error("access log: flush timed out with %d entries", self._queue.qsize())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        while not self._queue.empty():
            # The database is gone: the structured log keeps the entries for recovery.
            logger.error("access log entry not written: %r", self._queue.get_nowait())

    async def _gather(self) -> list[dict[str, Any]]:
        """Wait for one entry, then up to ``gather_seconds`` for more: one commit for many.

        Entries land a few milliseconds later; in exchange a busy zone writes one
        transaction (and takes the chain's lock once) per batch rather than per request.
        """
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.gather_seconds
        while len(batch) < self.batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _drain(self) -> None:
        delay = 0.25
        while True:
            batch = await self._gather()
            while True:
                try:
                    await self.write_now(batch)
                    break
                except Exception:
                    # Keep the batch and retry: an audit entry is not dropped silently.
                    logger.exception("access log: writing %d entries failed", len(batch))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            delay = 0.25
            for _ in batch:
                self._queue.task_done()


class AccessLogRuntime:
    """What the audit plugin keeps per app: zone name, model, engine, writer, trusted proxies."""

    def __init__(
        self,
        zone: str,
        model: type[AccessLogMixin],
        writer: AccessLogWriter,
        *,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self.zone = zone
        self.model = model
        self.writer = writer
        # Whose X-Forwarded-For names the client in the entries (the zone's TRUSTED_PROXIES).
        self.trusted_proxies = trusted_proxies

    @property
    def engine(self) -> AsyncEngine:
        """The access log's own engine (separate from the request sessions')."""
        return self.writer.engine


def runtime_of(app: Litestar) -> AccessLogRuntime:
    """The app's access-log runtime; a clear error when the audit plugin is missing."""
    return runtime_of_state(app.state)


def runtime_of_state(state: State) -> AccessLogRuntime:
    """The access-log runtime kept in an app's state (see :func:`runtime_of`)."""
    runtime = state.get(RUNTIME_STATE_KEY)
    if not isinstance(runtime, AccessLogRuntime):
        message = "the access log is not configured: add AuditPlugin to the app"
        raise RuntimeError(message)
    return runtime


async def record_event(request: Request[Any, Any, Any], event: AccessEvent) -> None:
    """Append an explicit event (a login attempt, a lockout, a refusal) and wait until durable.

    It is written in its own transaction, so it stays even when the request's own
    transaction is rolled back (a failed login answers with an error).
    """
    runtime = runtime_of(request.app)
    scope = request.scope
    row = make_row(
        zone=runtime.zone,
        actor=event.actor,
        client_address=client_address(scope, runtime.trusted_proxies),
        method=scope.get("method", "EVENT"),
        route=scope.get("path_template") or scope.get("path", ""),
        outcome=event.outcome,
        resource_ids=event.resource_ids,
        request_id=request_id_of(scope),
        detail=event.detail,
    )
    await runtime.writer.write_now([row])
