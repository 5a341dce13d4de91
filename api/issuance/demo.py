"""Demo residents for the issuance zone, so `make run` has a card list to work with."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.demo_data import generate_residents, write_demo_card_list
from api.issuance.models import Resident
from api.issuance.residents.importing import CardImportReport, import_card_list

DEMO_SEED = 2026
DEMO_LOGINS_SHOWN = 3


def write_demo_files(folder: Path, count: int) -> Path:
    """Write a synthetic card list and ``demo-logins.txt`` into ``folder``; return the list."""
    folder.mkdir(parents=True, exist_ok=True)
    card_list = folder / "card-list.csv"
    write_demo_card_list(card_list, count, seed=DEMO_SEED)
    lines = [
        f"  resident  ID {resident.row.reservation_id}  password {resident.row.password}"
        for resident in generate_residents(min(count, DEMO_LOGINS_SHOWN), seed=DEMO_SEED)
    ]
    (folder / "demo-logins.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return card_list


async def seed_demo_residents(session: AsyncSession, card_list: Path) -> CardImportReport | None:
    """Import the demo card list unless residents exist (demo data is seeded once)."""
    if await session.scalar(select(func.count()).select_from(Resident)):
        return None
    return await import_card_list(session, card_list, file_name=card_list.name)
