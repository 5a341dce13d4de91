"""Facts about the city the resident pages show: contact phone, counter name, time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec


class ResidentSiteConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the pages say about the city (the lead may read these from settings)."""

    phone: str = "0120-000-000"
    phone_hours: str = "8:30-17:15"
    timezone: str = "Asia/Tokyo"
    policy_date: str = "2026-11-26"

    @property
    def tz(self) -> ZoneInfo:
        """The counters' time zone."""
        return ZoneInfo(self.timezone)
