"""Alembic's entry point for the reservation zone: its tables registered, the steps shared."""

import api.reservation.booking.models
import api.reservation.exchange.models
import api.reservation.models
import api.reservation.places.models  # noqa: F401 - these register the zone's tables
from api.core.migrations import run

run()
