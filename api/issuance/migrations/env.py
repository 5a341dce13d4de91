"""Alembic's entry point for the issuance zone: its tables are registered, the steps are shared."""

import api.issuance.exchange.models
import api.issuance.models
import api.issuance.progress.models
import api.issuance.residents.models  # noqa: F401 - these register the zone's tables
from api.core.migrations import run

run()
