"""Prometheus metrics of a zone: ``/metrics`` for scrapers, and every route's requests.

The middleware counts requests and their durations by route *template*
(``/api/residents/{resident_id}``), never by the raw path, so no reservation ID or other
identifier becomes a label value. ``/metrics`` is a staff route like any other: it needs
``metrics.read`` (a Prometheus server scrapes with a personal access token holding it) from
a staff network. With several worker processes, ``prepare_multiprocess`` makes the workers
share their counts through files, so any worker's answer covers them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from api.core.identity.guards import PERMISSION
from api.core.identity.permissions import Permission

MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# Scrapes and probes come every few seconds and say nothing about the residents' service.
_NOT_COUNTED: Final = ["^/metrics", "^/healthz", "^/readyz"]


class MetricsController(PrometheusController):
    """``GET /metrics``: the zone's metrics in Prometheus' text format (``metrics.read``)."""

    opt = {PERMISSION: Permission.METRICS_READ.value}
    tags = ["operations"]


def request_metrics(zone: str) -> PrometheusConfig:
    """Request count, duration, errors and requests in progress, labelled by route and zone."""
    return PrometheusConfig(
        app_name=zone, prefix="madoguchi_http", group_path=True, exclude=_NOT_COUNTED
    )


def prepare_multiprocess(folder: Path) -> None:
    """Make worker processes started after this call share metrics through ``folder``.

    Call in the parent, before the workers start. An operator's own
    ``PROMETHEUS_MULTIPROC_DIR`` is respected. The metric files an earlier run left there
    (``*.db``, prometheus_client's) are removed: they would be added to this run's counts.
    """
    chosen = Path(os.environ.setdefault(MULTIPROCESS_VARIABLE, str(folder)))
    chosen.mkdir(parents=True, exist_ok=True)
    for stale in chosen.glob("*.db"):
        stale.unlink()
