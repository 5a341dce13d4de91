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
    MemberRevoked,
    RateLimited,
    Revoked,
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
    # The password was right, but the ID's eligibility was revoked (card handed over,
    # returned, cancelled or expired): it can no longer log in or be booked for.
    REVOKED = "login_revoked"


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


# Every attempt is counted BEFORE its password is compared, in the statement that reads the
# verifier: the UPDATE (or, for an ID that is not eligible, the upsert) waits for any
# concurrent attempt on the same ID and re-checks the lock on its result, so however many
# guesses arrive at once, at most ``threshold`` of them are ever compared; the rest find
# the ID locked. A right password then clears the count (``_RESET``). One round trip
# whether or not the ID exists, so the timing does not tell.
_COUNT_ATTEMPT: Final = """
    attempt AS (
        UPDATE eligibilities
        SET failed_logins = failed_logins + 1,
            locked_until = CASE WHEN failed_logins + 1 >= :threshold
                                THEN now() + make_interval(mins => :minutes)
                                ELSE locked_until END
        WHERE reservation_id = :rid
            AND (locked_until IS NULL OR locked_until <= now()) {under_limit}
        RETURNING password_verifier, session_generation, locked_until, revoked_at
    ),
    unknown_attempt AS (
        INSERT INTO unknown_id_lockouts AS u (reservation_id, failed_logins, locked_until)
        SELECT :rid, 1, CASE WHEN 1 >= :threshold THEN now() + make_interval(mins => :minutes) END
        WHERE NOT EXISTS (SELECT FROM eligibilities WHERE reservation_id = :rid) {under_limit}
        ON CONFLICT (reservation_id) DO UPDATE
        SET failed_logins = u.failed_logins + 1,
            locked_until = CASE WHEN u.failed_logins + 1 >= :threshold
                                THEN now() + make_interval(mins => :minutes)
                                ELSE u.locked_until END,
            last_failed_at = now()
        WHERE u.locked_until IS NULL OR u.locked_until <= now()
        RETURNING locked_until
    )
"""
_ATTEMPT_COLUMNS: Final = """
    EXISTS (SELECT FROM attempt) OR EXISTS (SELECT FROM unknown_attempt) AS counted,
    a.password_verifier, a.session_generation, a.revoked_at IS NOT NULL AS revoked,
    coalesce(a.locked_until, n.locked_until) AS locked_after
"""
_FROM_ID: Final = """
    FROM (SELECT CAST(:rid AS varchar) AS rid) AS q
    LEFT JOIN attempt AS a ON true
    LEFT JOIN unknown_attempt AS n ON true
"""
# The login answer carries the resident's active booking: read in the same statement
# (its columns are NULL when there is none), and shown only when the password was right.
_BOOKING_JOIN: Final = f"""
    LEFT JOIN LATERAL ({ACTIVE_BOOKING_VIEW.format(rid="q.rid")}) AS booking ON true
"""
_HIT: Final = f"hit AS ({rate_limit.HIT_SQL}),"


def _attempt(*, hit: bool, booking: bool) -> Statement:
    # S608: constant fragments only; every value is a bound parameter. With ``hit`` the
    # client's rate-limit count is taken whatever the outcome, and the attempt is only
    # counted against the ID while the client is within its limit.
    under_limit = "AND (SELECT hits FROM hit) <= :limit" if hit else ""
    return Statement(
        text(
            "WITH "  # noqa: S608 - constant fragments, see above
            + (_HIT if hit else "")
            + _COUNT_ATTEMPT.format(under_limit=under_limit)
            + "SELECT "
            + ("(SELECT hits FROM hit) AS hits," if hit else "")
            + _ATTEMPT_COLUMNS
            + (", booking.*" if booking else "")
            + _FROM_ID
            + (_BOOKING_JOIN if booking else "")
        )
    )


_ATTEMPT = _attempt(hit=False, booking=False)
# The rate-limit count and the attempt in one round trip: the login surge's hot path.
_HIT_AND_ATTEMPT = _attempt(hit=True, booking=False)
# The same with the login answer's booking.
_ATTEMPT_WITH_BOOKING = _attempt(hit=False, booking=True)
_HIT_AND_ATTEMPT_WITH_BOOKING = _attempt(hit=True, booking=True)
_LOCKED_UNTIL = Statement(
    text(
        "SELECT coalesce(e.locked_until, u.locked_until) "
        "FROM (SELECT CAST(:rid AS varchar) AS rid) AS q "
        "LEFT JOIN eligibilities AS e ON e.reservation_id = q.rid "
        "LEFT JOIN unknown_id_lockouts AS u ON u.reservation_id = q.rid"
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
    even compared), then the constant-time comparison. The attempt is counted as a failure
    before the comparison, in the atomic update that reads the verifier and locks the ID at
    the threshold, so parallel guesses cannot outrun the lockout; a success clears the
    count. With ``with_booking`` the look-up also reads the ID's active booking, returned on
    success.
    """
    rid = canonical_id(reservation_id)
    parameters: dict[str, Any] = {
        "rid": rid,
        "threshold": settings.lockout_threshold,
        "minutes": settings.lockout_minutes,
    }
    limited = bool(settings.login_rate_limit and client_address)
    if limited:
        assert client_address is not None
        await rate_limit.maybe_prune(db)
        parameters |= {
            "key": rate_limit.client_key(client_address),
            "window": rate_limit.WINDOW_SECONDS,
            "limit": settings.login_rate_limit,
        }
        statement = _HIT_AND_ATTEMPT_WITH_BOOKING if with_booking else _HIT_AND_ATTEMPT
    else:
        statement = _ATTEMPT_WITH_BOOKING if with_booking else _ATTEMPT
    row = await db.one(statement, parameters)
    if limited and row.hits > settings.login_rate_limit:
        metrics.count_login(Outcome.RATE_LIMITED)
        return PasswordCheck(outcome=Outcome.RATE_LIMITED, reservation_id=rid)
    if not row.counted:
        # Locked: this attempt's password is not even compared. The statement's snapshot
        # may predate the lock (set by an attempt it waited for): read the lock as it is.
        locked_until = await db.scalar(_LOCKED_UNTIL, {"rid": rid})
        metrics.count_login(Outcome.LOCKED_OUT)
        return PasswordCheck(
            outcome=Outcome.LOCKED_OUT, reservation_id=rid, locked_until=locked_until
        )
    if password_matches(settings.password_key, rid, password, row.password_verifier):
        await db.execute(_RESET, {"rid": rid})
        if row.revoked:
            metrics.count_login(Outcome.REVOKED)
            return PasswordCheck(outcome=Outcome.REVOKED, reservation_id=rid)
        metrics.count_login(Outcome.SUCCEEDED)
        return PasswordCheck(
            outcome=Outcome.SUCCEEDED,
            reservation_id=rid,
            session_generation=row.session_generation,
            booking=view_of(row) if with_booking and row.id is not None else None,
        )
    failures = await rate_limit.hit(db, rate_limit.FAILURES_KEY)
    metrics.observe_failure_rate(failures, settings.alarm_failures_per_minute)
    if row.locked_after is not None and row.locked_after > now:
        # This failure reached the threshold: say so now rather than at the next attempt.
        metrics.count_login(Outcome.LOCKED_OUT)
        return PasswordCheck(
            outcome=Outcome.LOCKED_OUT, reservation_id=rid, locked_until=row.locked_after
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
        locked = MemberLockedOut if member else LockedOut
        return locked(
            "This reservation ID is locked after repeated wrong passwords; try later.",
            details={**(details or {}), "locked_until": until},
        )
    if check.outcome is Outcome.REVOKED:
        if member:
            return MemberRevoked(
                "A household member's card can no longer be booked for.", details=details
            )
        return Revoked(
            "This reservation ID can no longer be used: the card has been handed over, "
            "returned or cancelled. Please contact the counter."
        )
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


# A revoked ID's sessions end with its eligibility.
_GENERATION = text(
    "SELECT session_generation FROM eligibilities "
    "WHERE reservation_id = :rid AND revoked_at IS NULL"
)
_LOG_OUT = text(
    "UPDATE eligibilities SET session_generation = session_generation + 1 "
    "WHERE reservation_id = :rid AND session_generation = :generation"
)


async def session_is_current(session: AsyncSession, reservation_id: str, generation: int) -> bool:
    """Whether a session token is still good: the ID not revoked, no logout since it was issued."""
    current = await session.scalar(_GENERATION, {"rid": reservation_id})
    return current is not None and current == generation


async def end_sessions(session: AsyncSession, reservation_id: str, generation: int) -> None:
    """Log out: every token of the ID issued so far stops working."""
    await session.execute(_LOG_OUT, {"rid": reservation_id, "generation": generation})
