"""The login-failure alarm read afresh at every scrape of ``/metrics``.

Each failed attempt sets the alarm gauges from the zone's shared count, but when attempts
stop failing nothing would set them again: the alarm would stay on after the attack. The
scrape therefore reads the current minute's count from PostgreSQL (one indexed look-up).
"""

from __future__ import annotations

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking import metrics, rate_limit
from api.reservation.booking.deps import provide_context
from api.reservation.booking.driver import SessionDb


async def refresh_failure_alarm(session: AsyncSession, state: State) -> None:
    """Set the failure-rate gauges from the current minute's count of all replicas."""
    threshold = provide_context(state).settings.alarm_failures_per_minute
    failures = await rate_limit.current(SessionDb(session), rate_limit.FAILURES_KEY)
    metrics.show_failure_rate(failures, threshold)
