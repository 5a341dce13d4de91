"""Counters shared by every process through PostgreSQL: per-client rate limit, failure rate.

Litestar's ``RateLimitConfig`` keeps its counts per process (unless its store is Redis),
so with several workers or replicas a client would get N times its allowance. One atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per attempt counts it once for the
whole zone instead; the database every replica already shares is the store, so no Redis
is needed (``MADOGUCHI_REDIS_URL`` is not used here; see README.md).
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Final

from sqlalchemy import text

from api.reservation.booking.driver import Db, Statement

WINDOW_SECONDS: Final = 60
FAILURES_KEY: Final = "failures"
# About one attempt in this many also deletes windows older than an hour.
_PRUNE_ONE_IN: Final = 500

# The start of the fixed window ``now()`` falls in (``:window`` seconds long).
_WINDOW_START: Final = "to_timestamp(floor(extract(epoch FROM now()) / :window) * :window)"
# Also the first part of the login's attempt statement (``login._HIT_AND_ATTEMPT``).
HIT_SQL: Final = f"""
    INSERT INTO login_throttles (key, window_start, hits)
    VALUES (:key, {_WINDOW_START}, 1)
    ON CONFLICT (key, window_start) DO UPDATE SET hits = login_throttles.hits + 1
    RETURNING hits
"""  # noqa: S608 - a constant, no input
_HIT = Statement(text(HIT_SQL))
_CURRENT = Statement(
    text(f"SELECT hits FROM login_throttles WHERE key = :key AND window_start = {_WINDOW_START}")  # noqa: S608
)
# Also the counts of IDs that do not exist, a day after their last failure: every distinct
# wrong ID typed adds one, and they would otherwise pile up forever.
_PRUNE = Statement(
    text(
        """
        WITH stale_windows AS (
            DELETE FROM login_throttles WHERE window_start < now() - interval '1 hour'
        )
        DELETE FROM unknown_id_lockouts
        WHERE last_failed_at < now() - interval '1 day'
            AND (locked_until IS NULL OR locked_until < now())
        """
    )
)


def client_key(address: str) -> str:
    """The throttle key of one client address: an IPv4 address, or an IPv6 address's /64.

    One IPv6 customer is routinely given a whole /64, so per-address counting would give
    one attacker 2**64 allowances.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"client:{address}"[:80]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"client:{parsed.ipv4_mapped}"
        return f"client:{ipaddress.IPv6Network((parsed, 64), strict=False)}"
    return f"client:{parsed}"


async def prune(db: Db) -> None:
    """Delete what no count needs any more.

    Rate-limit windows older than an hour, and unknown IDs' counts a day after their last
    failure (once any lock has run out).
    """
    await db.execute(_PRUNE, {})


async def maybe_prune(db: Db) -> None:
    """Now and then (one call in ``_PRUNE_ONE_IN``), :func:`prune`."""
    if secrets.randbelow(_PRUNE_ONE_IN) == 0:
        await prune(db)


async def hit(db: Db, key: str, window_seconds: int = WINDOW_SECONDS) -> int:
    """Count one event under ``key`` in the current window; return the window's count so far."""
    await maybe_prune(db)
    hits = await db.scalar(_HIT, {"key": key, "window": window_seconds})
    assert hits is not None
    return int(hits)


async def current(db: Db, key: str, window_seconds: int = WINDOW_SECONDS) -> int:
    """The count under ``key`` in the current window so far, without adding to it."""
    hits = await db.scalar(_CURRENT, {"key": key, "window": window_seconds})
    return int(hits or 0)
