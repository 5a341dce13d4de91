"""Tables of this part of the issuance zone (none yet)."""

from __future__ import annotations

from api.issuance.models import IssuanceBase

__all__ = ["IssuanceBase"]
