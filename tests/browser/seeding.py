"""Test data for the resident site, through the real schema and the places settings.

Places and slots are the demo places (set up through the places settings services, as
staff would); residents are eligibility rows whose verifier is the engine's
``password_verifier`` under :data:`PASSWORD_KEY`, the zone's password key in these tests
(``RESERVATION_PASSWORD_KEY``), exactly as the eligibility import stores them.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.reservation.booking.credentials import password_verifier
from api.reservation.booking.models import Eligibility
from api.reservation.demo import seed_demo_places
from api.reservation.places.services import Clock

SECRET_KEY: Final = "resident-site-tests-secret-key-0123456789abcdef"
PASSWORD_KEY: Final = "resident-site-tests-password-key-0123456789"
PASSWORD: Final = "0315"
RESIDENTS: Final = 60
TZ: Final = ZoneInfo("Asia/Tokyo")
# The zone's settings for a server or app on this data (besides database and var dir).
ENVIRONMENT: Final = {
    "RESERVATION_SECRET_KEY": SECRET_KEY,
    "RESERVATION_PASSWORD_KEY": PASSWORD_KEY,
    # Every test logs in from 127.0.0.1: the per-client limit is tested in the booking tests.
    "RESERVATION_LOGIN_RATE_LIMIT": "0",
}


def resident_id(number: int) -> str:
    """The canonical reservation ID of test resident ``number`` (1-based)."""
    return f"WEB-{number:06d}"


async def seed_site(session: AsyncSession, *, now: dt.datetime | None = None) -> None:
    """The demo places with their slots, and :data:`RESIDENTS` residents with password 0315."""
    await seed_demo_places(session, Clock(tz=TZ, now=now or dt.datetime.now(dt.UTC)))
    key = PASSWORD_KEY.encode()
    await session.execute(
        insert(Eligibility),
        [
            {
                "reservation_id": resident_id(number),
                "shipment_no": f"SH{number:010d}",
                "password_verifier": password_verifier(key, resident_id(number), PASSWORD),
            }
            for number in range(1, RESIDENTS + 1)
        ],
    )
