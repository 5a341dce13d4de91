"""Tables of this part of the reservation zone (none yet)."""

from __future__ import annotations

from api.reservation.models import ReservationBase

__all__ = ["ReservationBase"]
