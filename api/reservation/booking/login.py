"""Checking a resident's password: rate limit, lockout, constant-time compare, alarm.

Used for the resident's own login and for each household member named in a booking:
both are password attempts, so both count towards the same limits.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Final

import msgspec
from litestar import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import DomainError
from api.reservation.booking import metrics, rate_limit
from api.reservation.booking.config import BookingSettings
from api.reservation.booking.credentials import password_matches
from api.reservation.booking.deps import BookingContext, utc_now
from api.reservation.booking.driver import Db, SessionDb, Statement
from api.reservation.booking.events import record, record_queued, resident
from api.reservation.booking.refusals import (
    LockedOut,
    LoginFailed,
    MemberLockedOut,
    MemberLoginFailed,
    RateLimited,
)
from api.reservation.booking.schemas import BookingView
from api.reservation.booking.services import ACTIVE_BOOKING_VIEW, view_of
from sync_format.csv.normalize import normalize_reservation_id
from sync_format.csv.problems import CellError


class Outcome(enum.StrEnum):
    """How one password attempt ended (also the access log's outcome word)."""

    SUCCEEDED = "login_succeeded"
    FAILED = "login_failed"
    LOCKED_OUT = "locked_out"
    RATE_LIMITED = "rate_limited"


class PasswordCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The result of one password attempt."""

    outcome: Outcome
    reservation_id: str  # canonical when well-formed, else what was typed (cut short)
    session_generation: int = 0
    locked_until: dt.datetime | None = None
    # The ID's active booking, when asked for (``with_booking``) and the password was right.
    booking: BookingView | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the password was right (and the ID neither locked nor throttled)."""
        return self.outcome is Outcome.SUCCEEDED


# One round trip whether or not the ID exists, so the timing does not tell.
_LOOK_UP_COLUMNS: Final = """
    e.password_verifier, e.failed_logins, e.session_generation,
    coalesce(e.locked_until, u.locked_until) AS locked_until
"""
_FROM_ID: Final = """
    FROM (SELECT CAST(:rid AS varchar) AS rid) AS q
    LEFT JOIN eligibilities AS e ON e.reservation_id = q.rid
    LEFT JOIN unknown_id_lockouts AS u ON u.reservation_id = q.rid
"""
# The login answer carries the resident's active booking: read in the same statement
# (its columns are NULL when there is none), and shown only when the password was right.
_BOOKING_JOIN: Final = f"""
    LEFT JOIN LATERAL ({ACTIVE_BOOKING_VIEW.format(rid="q.rid")}) AS booking ON true
"""
_HIT: Final = f"WITH hit AS ({rate_limit.HIT_SQL}) SELECT (SELECT hits FROM hit) AS hits,"  # noqa: S608


def _look_up(*, hit: bool, booking: bool) -> Statement:
    # S608: constant fragments only; every value is a bound parameter.
    return Statement(
        text(
            (_HIT if hit else "SELECT")
            + _LOOK_UP_COLUMNS
            + (", booking.*" if booking else "")
            + _FROM_ID
            + (_BOOKING_JOIN if booking else "")
        )
    )


_LOOK_UP = _look_up(hit=False, booking=False)
# The client's rate-limit count and the look-up in one round trip (the login surge's hot
# path): the count is taken whatever the outcome, and the look-up's row is only used when
# the client is under its limit, as if the two were run one after the other.
_HIT_AND_LOOK_UP = _look_up(hit=True, booking=False)
# The same with the login answer's booking: a successful login is one statement.
_LOOK_UP_WITH_BOOKING = _look_up(hit=False, booking=True)
_HIT_AND_LOOK_UP_WITH_BOOKING = _look_up(hit=True, booking=True)
# The lockout in one atomic statement: count the failure and lock at the threshold.
_FAIL_KNOWN = Statement(
    text(
        """
        UPDATE eligibilities
        SET failed_logins = failed_logins + 1,
            locked_until = CASE WHEN failed_logins + 1 >= :threshold
                                THEN now() + make_interval(mins => :minutes)
                                ELSE locked_until END
        WHERE reservation_id = :rid
        RETURNING locked_until
        """
    )
)
_FAIL_UNKNOWN = Statement(
    text(
        """
        INSERT INTO unknown_id_lockouts AS u (reservation_id, failed_logins, locked_until)
        VALUES (:rid, 1, CASE WHEN 1 >= :threshold
                              THEN now() + make_interval(mins => :minutes) END)
        ON CONFLICT (reservation_id) DO UPDATE
        SET failed_logins = u.failed_logins + 1,
            locked_until = CASE WHEN u.failed_logins + 1 >= :threshold
                                THEN now() + make_interval(mins => :minutes)
                                ELSE u.locked_until END
        RETURNING locked_until
        """
    )
)
_RESET = Statement(
    text(
        "UPDATE eligibilities SET failed_logins = 0, locked_until = NULL "
        "WHERE reservation_id = :rid"
    )
)
_UNLOCK_KNOWN = text(
    "UPDATE eligibilities SET failed_logins = 0, locked_until = NULL "
    "WHERE reservation_id = :rid RETURNING 1"
)
_UNLOCK_UNKNOWN = text("DELETE FROM unknown_id_lockouts WHERE reservation_id = :rid RETURNING 1")


def canonical_id(typed: str) -> str:
    """The canonical ``A1B-123456`` form of a typed reservation ID, or the text cut short."""
    try:
        return normalize_reservation_id(typed)
    except CellError:
        return typed.strip()[:32]


async def check_password(
    db: Db,
    settings: BookingSettings,
    *,
    reservation_id: str,
    password: str,
    client_address: str | None,
    now: dt.datetime,
    with_booking: bool = False,
) -> PasswordCheck:
    """Check one password attempt and count it; the caller commits whatever the outcome.

    ``db`` runs the statements: the request's ORM session, or an asyncpg connection
    (:mod:`~api.reservation.booking.driver`) in a transaction or in autocommit, each
    statement being atomic on its own.

    Order: the client's rate limit, then the ID's lockout (a locked ID's password is not
    even compared), then the constant-time comparison. A failure is counted in one atomic
    update that also locks the ID at the threshold; a success clears the count. With
    ``with_booking`` the look-up also reads the ID's active booking, returned on success.
    """
    rid = canonical_id(reservation_id)
    if settings.login_rate_limit and client_address:
        await rate_limit.maybe_prune(db)
        row = await db.one(
            _HIT_AND_LOOK_UP_WITH_BOOKING if with_booking else _HIT_AND_LOOK_UP,
            {
                "rid": rid,
                "key": rate_limit.client_key(client_address),
                "window": rate_limit.WINDOW_SECONDS,
            },
        )
        if row.hits > settings.login_rate_limit:
            metrics.count_login(Outcome.RATE_LIMITED)
            return PasswordCheck(outcome=Outcome.RATE_LIMITED, reservation_id=rid)
    else:
        statement = _LOOK_UP_WITH_BOOKING if with_booking else _LOOK_UP
        row = await db.one(statement, {"rid": rid})
    if row.locked_until is not None and row.locked_until > now:
        metrics.count_login(Outcome.LOCKED_OUT)
        return PasswordCheck(
            outcome=Outcome.LOCKED_OUT, reservation_id=rid, locked_until=row.locked_until
        )
    if password_matches(settings.password_key, rid, password, row.password_verifier):
        if row.failed_logins or row.locked_until is not None:
            await db.execute(_RESET, {"rid": rid})
        metrics.count_login(Outcome.SUCCEEDED)
        return PasswordCheck(
            outcome=Outcome.SUCCEEDED,
            reservation_id=rid,
            session_generation=row.session_generation,
            booking=view_of(row) if with_booking and row.id is not None else None,
        )
    failure = _FAIL_KNOWN if row.password_verifier is not None else _FAIL_UNKNOWN
    locked_until = await db.scalar(
        failure,
        {"rid": rid, "threshold": settings.lockout_threshold, "minutes": settings.lockout_minutes},
    )
    failures = await rate_limit.hit(db, rate_limit.FAILURES_KEY)
    metrics.observe_failure_rate(failures, settings.alarm_failures_per_minute)
    if locked_until is not None and locked_until > now:
        # This failure reached the threshold: say so now rather than at the next attempt.
        metrics.count_login(Outcome.LOCKED_OUT)
        return PasswordCheck(
            outcome=Outcome.LOCKED_OUT, reservation_id=rid, locked_until=locked_until
        )
    metrics.count_login(Outcome.FAILED)
    return PasswordCheck(outcome=Outcome.FAILED, reservation_id=rid)


def refusal_of(check: PasswordCheck, *, member: bool) -> DomainError:
    """The answer to a failed password attempt: one message for unknown ID and wrong password."""
    if check.outcome is Outcome.RATE_LIMITED:
        return RateLimited("Too many attempts from this connection; wait a minute.")
    details = {"reservation_id": check.reservation_id} if member else None
    if check.outcome is Outcome.LOCKED_OUT:
        until = check.locked_until.isoformat() if check.locked_until else None
        text_ = "This reservation ID is locked after repeated wrong passwords; try later."
        if member:
            return MemberLockedOut(text_, details={**(details or {}), "locked_until": until})
        return LockedOut(text_, details={"locked_until": until})
    if member:
        return MemberLoginFailed("A household member's ID or password is wrong.", details=details)
    return LoginFailed("The reservation ID or password is wrong.")


async def attempt_login(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    context: BookingContext,
    reservation_id: str,
    password: str,
    *,
    member: bool,
    with_booking: bool = False,
) -> PasswordCheck:
    """One resident password attempt over HTTP: checked, counted, committed and logged.

    The JSON API and the booking site both log residents (and household members) in
    through this function, so every attempt reaches the access log the same way. A failed
    attempt raises its refusal (:func:`refusal_of`) after it is committed and its event is
    durable. ``with_booking`` reads the ID's active booking in the look-up statement (the
    login answer shows it).
    """
    check = await check_password(
        SessionDb(db_session),
        context.settings,
        reservation_id=reservation_id,
        password=password,
        client_address=context.client_of(request),
        now=utc_now(),
        with_booking=with_booking,
    )
    # Commit now: the counters must stay although a refusal rolls back, and the request's
    # transaction should not stay open while the access log is written.
    await db_session.commit()
    return await answer_attempt(request, check, member=member)


async def answer_attempt(
    request: Request[Any, Any, Any], check: PasswordCheck, *, member: bool
) -> PasswordCheck:
    """Log a counted and committed password attempt; raise its refusal when it failed.

    A failure's event is durable before the refusal is raised; a success is queued to the
    access log's batching writer. Every password attempt over HTTP ends here.
    """
    outcome = f"member_{check.outcome.value}" if member else check.outcome.value
    if not check.succeeded:
        await record(request, outcome, resident(check.reservation_id))
        raise refusal_of(check, member=member)
    await record_queued(request, outcome, resident(check.reservation_id))
    return check


async def lift_lockout(session: AsyncSession, reservation_id: str) -> bool:
    """Clear an ID's failed logins and lock (staff); ``False`` when nothing was locked or known."""
    rid = canonical_id(reservation_id)
    known = await session.scalar(_UNLOCK_KNOWN, {"rid": rid})
    unknown = await session.scalar(_UNLOCK_UNKNOWN, {"rid": rid})
    return known is not None or unknown is not None


_GENERATION = text("SELECT session_generation FROM eligibilities WHERE reservation_id = :rid")
_LOG_OUT = text(
    "UPDATE eligibilities SET session_generation = session_generation + 1 "
    "WHERE reservation_id = :rid AND session_generation = :generation"
)


async def session_is_current(session: AsyncSession, reservation_id: str, generation: int) -> bool:
    """Whether a session token's generation is still the ID's (no logout since it was issued)."""
    current = await session.scalar(_GENERATION, {"rid": reservation_id})
    return current is not None and current == generation


async def end_sessions(session: AsyncSession, reservation_id: str, generation: int) -> None:
    """Log out: every token of the ID issued so far stops working."""
    await session.execute(_LOG_OUT, {"rid": reservation_id, "generation": generation})
