"""``madoguchi issuance ...``: serve, migrate and seed the issuance zone."""

from __future__ import annotations

from api.core.settings import Zone
from api.core.zone_cli import make_zone_group

issuance_group = make_zone_group(Zone.ISSUANCE, "api.issuance.app:create_app")
