"""Progress lists by day: the 実施日 a change reports, else the city's day it was recorded."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.models import Resident
from api.issuance.progress.models import CardProgress
from api.issuance.progress.queries import CardFilter, card_csv_rows, list_cards
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.services import import_results
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")
RESULTS_HEADER = "製造管理番号,結果,実施日,交付場所コード,備考\r\n"


def _today() -> dt.date:
    return dt.datetime.now(TOKYO).date()


def _issued_file(*rows: tuple[str, str]) -> bytes:
    lines = [f"{reservation_id},交付済,{day},city-hall,\r\n" for reservation_id, day in rows]
    return (RESULTS_HEADER + "".join(lines)).encode("utf-8")


async def _listed(session: AsyncSession, where: CardFilter) -> list[str]:
    page = await list_cards(session, where, tz=TOKYO, limit=100, offset=0)
    return [item.reservation_id for item in page.items]


async def test_an_issued_file_imported_late_counts_on_its_own_date_not_on_the_import_day(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    today_before = _today()
    handed_over = today_before - dt.timedelta(days=7)
    await import_results(
        issuance_session,
        _issued_file((residents[0].reservation_id, handed_over.isoformat())),
        "issued",
        actor="batch",
    )
    await advance(issuance_session, residents[1:], Action.ISSUED)
    today = _today()

    that_week = CardFilter(
        phase=Phase.ISSUED,
        reached_from=handed_over - dt.timedelta(days=1),
        reached_until=handed_over + dt.timedelta(days=5),
    )
    this_day = CardFilter(phase=Phase.ISSUED, reached_from=today_before, reached_until=today)
    page = await list_cards(
        issuance_session, CardFilter(phase=Phase.ISSUED), tz=TOKYO, limit=9, offset=0
    )
    csv_rows = await card_csv_rows(issuance_session, CardFilter(phase=Phase.ISSUED), tz=TOKYO)

    assert await _listed(issuance_session, that_week) == [residents[0].reservation_id]
    assert await _listed(issuance_session, this_day) == [residents[1].reservation_id]
    reached = {item.reservation_id: item.reached_on for item in page.items}
    assert reached[residents[0].reservation_id] == handed_over
    assert reached[residents[1].reservation_id] in {today_before, today}
    # 実施日 is its own column, beside the instant the change was recorded.
    assert csv_rows[0][:5] == [
        residents[0].reservation_id,
        residents[0].name,
        residents[0].name_kana,
        "issued",
        handed_over.isoformat(),
    ]


async def test_an_undated_change_after_a_dated_one_counts_on_the_day_it_was_recorded(
    issuance_session: AsyncSession,
) -> None:
    [resident] = await add_residents(issuance_session, 1)
    presetup = RESULTS_HEADER
    presetup += f"{resident.reservation_id},済,2026-04-01,,\r\n"
    await import_results(issuance_session, presetup.encode(), "presetup", actor="batch")
    today_before = _today()
    await advance(issuance_session, [resident], Action.NOTICE_PRINTED)
    today = _today()

    april = CardFilter(reached_from=dt.date(2026, 4, 1), reached_until=dt.date(2026, 4, 1))
    recorded = CardFilter(reached_from=today_before, reached_until=today)

    assert await _listed(issuance_session, april) == []
    assert await _listed(issuance_session, recorded) == [resident.reservation_id]


async def test_the_day_a_change_was_recorded_is_the_citys_day_not_the_utc_day(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents[:1], Action.PRESETUP_DONE)
    # 2026-04-01 15:30 UTC is 2026-04-02 00:30 in Tokyo: recorded (or imported) just after
    # the city's midnight. The rows are moved in time; the query is the real one.
    just_after_midnight = dt.datetime(2026, 4, 1, 15, 30, tzinfo=dt.UTC)
    await issuance_session.execute(
        update(CardProgress)
        .where(CardProgress.resident_id == residents[0].id)
        .values(changed_at=just_after_midnight)
    )
    await issuance_session.execute(
        update(Resident)
        .where(Resident.id == residents[1].id)
        .values(created_at=just_after_midnight)
    )
    ids = [resident.reservation_id for resident in residents]

    second = CardFilter(reached_from=dt.date(2026, 4, 2), reached_until=dt.date(2026, 4, 2))
    first = CardFilter(reached_from=dt.date(2026, 4, 1), reached_until=dt.date(2026, 4, 1))
    page = await list_cards(issuance_session, second, tz=TOKYO, limit=9, offset=0)

    assert [item.reservation_id for item in page.items] == ids
    assert [item.reached_on for item in page.items] == [dt.date(2026, 4, 2)] * 2
    assert await _listed(issuance_session, first) == []
    # The same instants are still 2026-04-01 where the city's day is UTC's.
    utc_page = await list_cards(issuance_session, first, tz=ZoneInfo("UTC"), limit=9, offset=0)
    assert utc_page.total == 2


async def test_the_card_list_api_filters_by_day_and_refuses_a_range_that_runs_backwards(
    progress_client: AsyncTestClient[Litestar], committed_session: AsyncSession
) -> None:
    residents = await add_residents(committed_session, 2)
    await committed_session.commit()
    ids = [resident.reservation_id for resident in residents]
    presetup = RESULTS_HEADER
    presetup += f"{ids[0]},済,2026-04-01,,\r\n{ids[1]},済,2026-04-03,,\r\n"
    imported = await progress_client.post(
        "/api/progress/results/presetup", content=presetup.encode()
    )

    april_first = {"reached_from": "2026-04-01", "reached_until": "2026-04-02"}
    listed = await progress_client.get("/api/progress/cards", params=april_first)
    exported = await progress_client.get("/api/progress/cards.csv", params=april_first)
    counted = await progress_client.get("/api/progress/counts", params=april_first)
    backwards = await progress_client.get(
        "/api/progress/cards", params={"reached_from": "2026-04-03", "reached_until": "2026-04-01"}
    )
    not_a_day = await progress_client.get("/api/progress/cards", params={"reached_from": "4月1日"})
    schema = await progress_client.get("/api/docs/openapi.json")

    assert imported.status_code == 201, imported.text
    assert [(item["reservation_id"], item["reached_on"]) for item in listed.json()["items"]] == [
        (ids[0], "2026-04-01")
    ]
    # The dashboard counts what the list shows: one card reached presetup_done those days.
    assert (counted.json()["counts"]["presetup_done"], counted.json()["total"]) == (1, 1)
    header, row = exported.content.decode("utf-8-sig").splitlines()
    assert header.split(",")[4] == "実施日"
    assert row.split(",")[4] == "2026-04-01"
    assert backwards.status_code == 400
    assert backwards.json()["error"]["code"] == "invalid_input"
    assert backwards.json()["error"]["details"] == [
        {"key": "reached_until", "message": "must not be before reached_from"}
    ]
    assert not_a_day.status_code == 400
    parameters = schema.json()["paths"]["/api/progress/cards"]["get"]["parameters"]
    assert {"reached_from", "reached_until"} <= {parameter["name"] for parameter in parameters}
