"""Letters and visitor lists print names with staff's 外字 substitutions, keeping the raw."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.models import Booking
from api.issuance.models import Resident
from api.issuance.progress.notices import letter_csv_rows, notice_letters
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.visitors import visitor_csv_rows, visitor_list
from api.issuance.residents.models import GaijiSubstitution
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = dt.date(2026, 5, 11)
# Private-use characters as the card list holds them; staff spell them 髙 and 﨑.
TAKA, SAKI, UNMAPPED = "\ue001", "\ue002", "\ue003"


async def _gaiji_resident(session: AsyncSession) -> Resident:
    (resident,) = await add_residents(session, 1, surname=f"{TAKA}橋")
    resident.address = f"見本県デモ市{SAKI}町1-2"
    resident.address_extra = f"{TAKA}{UNMAPPED}ハイツ101"
    session.add_all(
        [
            GaijiSubstitution(character=TAKA, replacement="髙"),
            GaijiSubstitution(character=SAKI, replacement="﨑"),
        ]
    )
    await session.flush()
    return resident


async def test_letters_print_names_and_addresses_with_gaiji_substituted_and_keep_the_raw(
    issuance_session: AsyncSession,
) -> None:
    resident = await _gaiji_resident(issuance_session)
    await advance(issuance_session, [resident], Action.PRESETUP_DONE)

    page = await notice_letters(issuance_session, phase=Phase.PRESETUP_DONE, limit=10, offset=0)
    [row] = await letter_csv_rows(issuance_session, Phase.PRESETUP_DONE)

    [letter] = page.items
    assert (letter.display_name, letter.name) == ("髙橋 太郎1", f"{TAKA}橋 太郎1")
    assert letter.display_address == "見本県デモ市﨑町1-2"
    assert letter.address == f"見本県デモ市{SAKI}町1-2"
    # A character without a substitution stays as it is, for staff to notice.
    assert letter.display_address_extra == f"髙{UNMAPPED}ハイツ101"
    assert row[1:5] == ["髙橋 太郎1", "251-8601", "見本県デモ市﨑町1-2", f"髙{UNMAPPED}ハイツ101"]


async def test_visitor_list_and_its_csv_show_names_with_gaiji_substituted_and_keep_the_raw(
    issuance_session: AsyncSession,
) -> None:
    resident = await _gaiji_resident(issuance_session)
    start = dt.datetime.combine(DAY, dt.time(10), tzinfo=TOKYO)
    issuance_session.add(
        Booking(
            resident_id=resident.id,
            confirmation_code="G0000001",
            location_code="HONCHO",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=15),
            status="booked",
            channel="web",
            source_updated_at=start - dt.timedelta(days=1),
        )
    )
    await issuance_session.flush()

    visitors = await visitor_list(issuance_session, "HONCHO", DAY, TOKYO)
    [row] = visitor_csv_rows(visitors)

    [member] = visitors.groups[0].members
    assert (member.display_name, member.name) == ("髙橋 太郎1", f"{TAKA}橋 太郎1")
    assert row[4] == "髙橋 太郎1"
