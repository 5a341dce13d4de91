"""Pure pieces of booking: verifiers, session tokens, confirmation codes, date rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from zoneinfo import ZoneInfo

import pytest

from api.reservation.booking.credentials import (
    CODE_ALPHABET,
    display_code,
    issue_session_token,
    new_confirmation_code,
    normalize_code,
    password_matches,
    password_verifier,
    read_session_token,
)
from api.reservation.booking.refusals import ChangeDeadlinePassed, DeadlinePassed, OutsideHorizon
from api.reservation.booking.rules import BookingRules

KEY = b"k" * 32
TZ = ZoneInfo("Asia/Tokyo")
SECRET = "s" * 40


def test_verifier_is_hmac_sha256_of_id_and_month_day() -> None:
    expected = hmac.new(KEY, b"A1B-123456:0229", hashlib.sha256).hexdigest()
    assert password_verifier(KEY, "A1B-123456", "0229") == expected
    assert password_matches(KEY, "A1B-123456", "0229", expected)
    assert not password_matches(KEY, "A1B-123456", "0228", expected)
    # An unknown ID never matches, whatever is typed.
    assert not password_matches(KEY, "A1B-123456", "0229", None)


def test_confirmation_codes_avoid_ambiguous_symbols() -> None:
    assert not set(CODE_ALPHABET) & set("01OI")
    codes = {new_confirmation_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == 8 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert display_code("K7QXM3PA") == "K7QX-M3PA"
    assert normalize_code(" k7qx-m3pa ") == "K7QXM3PA"


def test_session_tokens_are_signed_and_expire() -> None:
    token, session = issue_session_token(SECRET, "A1B-123456", 3, 60)
    assert read_session_token(SECRET, token) == session
    assert read_session_token("x" * 40, token) is None
    assert read_session_token(SECRET, token.replace(".3.", ".4.")) is None
    expired, _ = issue_session_token(SECRET, "A1B-123456", 3, -1)
    assert read_session_token(SECRET, expired) is None
    assert read_session_token(SECRET, "garbage") is None


def test_horizon_opens_at_nine_thirty_days_ahead_and_closes_a_day_before() -> None:
    rules = BookingRules()
    starts = dt.datetime(2027, 3, 31, 10, 0, tzinfo=TZ)
    opens = dt.datetime(2027, 3, 1, 9, 0, tzinfo=TZ)
    with pytest.raises(OutsideHorizon):
        rules.check_bookable(starts, now=opens - dt.timedelta(seconds=1), tz=TZ)
    rules.check_bookable(starts, now=opens, tz=TZ)
    with pytest.raises(DeadlinePassed):
        rules.check_bookable(starts, now=starts - dt.timedelta(hours=24), tz=TZ)
    rules.check_changeable(starts, now=starts - dt.timedelta(hours=25))
    with pytest.raises(ChangeDeadlinePassed):
        rules.check_changeable(starts, now=starts - dt.timedelta(hours=23))


def test_staff_book_change_and_cancel_until_the_slot_begins_but_not_before_the_horizon() -> None:
    rules = BookingRules()
    starts = dt.datetime(2027, 3, 31, 10, 0, tzinfo=TZ)
    opens = dt.datetime(2027, 3, 1, 9, 0, tzinfo=TZ)
    just_before = starts - dt.timedelta(seconds=1)
    rules.check_bookable(starts, now=just_before, tz=TZ, by_staff=True)
    rules.check_changeable(starts, now=just_before, by_staff=True)
    with pytest.raises(DeadlinePassed):
        rules.check_bookable(starts, now=starts, tz=TZ, by_staff=True)
    with pytest.raises(ChangeDeadlinePassed):
        rules.check_changeable(starts, now=starts, by_staff=True)
    with pytest.raises(OutsideHorizon):
        rules.check_bookable(starts, now=opens - dt.timedelta(seconds=1), tz=TZ, by_staff=True)
