"""Prometheus metrics of resident login and booking, and the login-failure alarm.

Counters are per process; Prometheus (or ``PROMETHEUS_MULTIPROC_DIR``) adds them up. The
alarm is computed from the failure counter shared in PostgreSQL (see ``rate_limit.py``),
so every replica sees the whole zone's failure rate, not only its own.
"""

from __future__ import annotations

from typing import Final

import structlog
from prometheus_client import Counter, Gauge

logger = structlog.get_logger("madoguchi.booking")

RESIDENT_LOGINS: Final = Counter(
    "madoguchi_resident_logins",
    "Resident password attempts (logins and household members), by outcome.",
    ["outcome"],
)
# Both gauges are set by each failed attempt and again, from the shared count, at every
# scrape (``alarm.refresh_failure_alarm``): the most recent value is the zone's, and the
# alarm ends with the attack even when no attempt fails any more.
LOGIN_FAILURES_IN_WINDOW: Final = Gauge(
    "madoguchi_resident_login_failures_per_minute",
    "Failed resident password attempts across all IDs in the current minute (all replicas).",
    multiprocess_mode="mostrecent",
)
LOGIN_FAILURE_ALARM: Final = Gauge(
    "madoguchi_resident_login_failure_alarm",
    "1 while failed resident logins across IDs exceed the alarm threshold per minute.",
    multiprocess_mode="mostrecent",
)
BOOKINGS: Final = Counter(
    "madoguchi_bookings",
    "Booking operations, by operation, channel and outcome (a refusal's code).",
    ["operation", "channel", "outcome"],
)


def count_login(outcome: str) -> None:
    """Count one resident password attempt."""
    RESIDENT_LOGINS.labels(outcome=outcome).inc()


def count_booking(operation: str, channel: str, outcome: str) -> None:
    """Count one booking operation (``book``, ``change``, ``cancel``) and its outcome."""
    BOOKINGS.labels(operation=operation, channel=channel, outcome=outcome).inc()


def show_failure_rate(failures_this_minute: int, threshold: int) -> bool:
    """Set the two gauges from the zone's failure count; whether the alarm is on."""
    LOGIN_FAILURES_IN_WINDOW.set(failures_this_minute)
    alarming = threshold > 0 and failures_this_minute >= threshold
    LOGIN_FAILURE_ALARM.set(1 if alarming else 0)
    return alarming


def observe_failure_rate(failures_this_minute: int, threshold: int) -> bool:
    """Update the alarm from the shared failure count; log once when it crosses the threshold.

    The count comes from one atomic increment, so exactly one request in the whole zone
    sees it reach the threshold: one log line per alarming minute, whatever the replicas.
    """
    alarming = show_failure_rate(failures_this_minute, threshold)
    if threshold > 0 and failures_this_minute == threshold:
        logger.warning(
            "resident_login_failure_alarm",
            alarm="resident_login_failures",
            failures_per_minute=failures_this_minute,
            threshold=threshold,
        )
    return alarming
