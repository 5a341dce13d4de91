"""Issuance zone domain services (the card list import now lives in ``residents``)."""

from __future__ import annotations

from api.issuance.residents.importing import (
    CardImportRefused,
    CardImportReport,
    import_card_list,
)
from api.issuance.residents.whole_file import CARD_COLUMNS, STAGING_TABLE

__all__ = [
    "CARD_COLUMNS",
    "STAGING_TABLE",
    "CardImportRefused",
    "CardImportReport",
    "import_card_list",
]
