"""Prometheus metrics of a zone: ``/metrics`` for scrapers, and every answered request.

Requests are counted by route *template* (``/api/residents/{resident_id}``), never by the
raw path, so no reservation ID or other identifier becomes a label value; requests that
match no route are not counted (the request log has them). ``/metrics`` is a staff route
like any other: it needs ``metrics.read`` (a Prometheus server scrapes with a personal
access token holding it) from a staff network. With several worker processes,
``prepare_multiprocess`` makes the workers share their counts through files, so any
worker's answer covers them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.asgi import ResponseStatus
from api.core.identity.guards import PERMISSION
from api.core.identity.permissions import Permission

MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# App state key of the zone's refresh hooks: what a gauge must read from the database at
# scrape time (a value shared by all replicas, which no single process keeps up to date).
METRICS_REFRESH: Final = "metrics_refresh"
MetricsRefresh = Callable[[AsyncSession, State], Awaitable[None]]
# Scrapes and probes come every few seconds and say nothing about the residents' service.
_NOT_COUNTED: Final = frozenset({"/metrics", "/healthz", "/readyz"})
_LABELS: Final = ("app_name", "method", "path", "status_code")
REQUESTS: Final = Counter(
    "madoguchi_http_requests",
    "HTTP requests answered, by zone (app_name), method, route template and status.",
    _LABELS,
)
REQUEST_SECONDS: Final = Histogram(
    "madoguchi_http_request_duration_seconds",
    "Time to answer an HTTP request, in seconds, by zone, method, route template and status.",
    _LABELS,
)


class MetricsController(Controller):
    """``GET /metrics``: the zone's metrics in Prometheus' text format (``metrics.read``)."""

    path = "/metrics"
    opt = {PERMISSION: Permission.METRICS_READ.value}
    tags = ["operations"]

    @get(summary="Prometheus metrics", cache=False)
    async def metrics(
        self, state: State, db_session: NamedDependency[AsyncSession]
    ) -> Response[bytes]:
        """Every metric of the zone, its database-backed gauges read afresh first."""
        refreshes: Sequence[MetricsRefresh] = state.get(METRICS_REFRESH, ())
        for refresh in refreshes:
            await refresh(db_session, state)
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROCESS_VARIABLE):
        # Every worker's files, added up (each worker serves scrapes in turn).
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def count_requests(app: ASGIApp, zone: str) -> ASGIApp:
    """Wrap a whole app (its ``asgi_handler``): count each answered request and its time.

    Around the whole app, not as route middleware, so that refusals made by the
    authentication and CSRF middlewares are counted with the status they were answered
    with (Litestar's own Prometheus middleware sits inside those and saw them as 200).
    """

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = ResponseStatus(send)
        try:
            await app(scope, receive, answer)
        finally:
            # Set by the router once a route matched; unmatched paths are not labels.
            route = scope.get("path_template")
            if route is not None and route not in _NOT_COUNTED:
                labels = (zone, scope["method"], route, str(answer.status))
                REQUESTS.labels(*labels).inc()
                REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)

    counted.counts_requests = True  # type: ignore[attr-defined]
    return counted


def prepare_multiprocess(folder: Path, zone: str) -> Path:
    """Make worker processes started after this call share metrics through a folder.

    Call in the parent, before the workers start; returns the folder. It is ``folder``, or
    the zone's own subfolder of an operator's ``PROMETHEUS_MULTIPROC_DIR`` (never that
    folder itself, which another zone or program may use). The metric files an earlier run
    left in it (``*.db``, prometheus_client's) are removed: they would be added to this
    run's counts.
    """
    configured = os.environ.get(MULTIPROCESS_VARIABLE, "").strip()
    chosen = Path(configured) / zone if configured else folder
    os.environ[MULTIPROCESS_VARIABLE] = str(chosen)
    chosen.mkdir(parents=True, exist_ok=True)
    for stale in chosen.glob("*.db"):
        stale.unlink()
    return chosen
