from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.database import TRUNCATE_ON_PURPOSE
from api.issuance.progress.models import CardProgress, ProgressEvent
from api.issuance.progress.queries import CardFilter, card_csv_rows, list_cards, phase_counts
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.schemas import ProgressChange
from api.issuance.progress.services import (
    ProgressRefused,
    ResultFileRefused,
    apply_changes,
    import_results,
    verify_progress,
)
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")


def _results(*rows: tuple[str, str, str, str, str]) -> bytes:
    lines = ["製造管理番号,結果,実施日,交付場所コード,備考", *(",".join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


async def _phases(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(CardProgress.resident_id, CardProgress.phase))
    return {row.resident_id: row.phase for row in rows}


async def test_staff_actions_move_the_card_and_record_who_when_why(
    issuance_session: AsyncSession,
) -> None:
    [resident] = await add_residents(issuance_session, 1)

    report = await apply_changes(
        issuance_session,
        [
            ProgressChange(
                reservation_id=resident.reservation_id.replace("-", ""),
                action=Action.PRESETUP_DONE,
                reason="窓口で確認",
                location_code="city-hall",
            )
        ],
        actor="clerk01",
        source="staff",
    )

    assert (report.applied, report.refused, report.committed) == (1, [], True)
    event = await issuance_session.scalar(select(ProgressEvent))
    assert event is not None
    assert (event.actor, event.reason, event.phase_before, event.phase_after) == (
        "clerk01",
        "窓口で確認",
        "imported",
        "presetup_done",
    )
    assert (await _phases(issuance_session))[resident.id] == "presetup_done"


async def test_illegal_transitions_are_refused_with_reasons_and_nothing_is_recorded(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 3)
    await advance(issuance_session, residents[:1], Action.PRESETUP_DONE, Action.ISSUED)

    with pytest.raises(ProgressRefused) as refused:
        await apply_changes(
            issuance_session,
            [
                ProgressChange(reservation_id=residents[0].reservation_id, action=Action.RETURNED),
                ProgressChange(
                    reservation_id=residents[1].reservation_id, action=Action.NOTICE_PRINTED
                ),
                ProgressChange(
                    reservation_id=residents[2].reservation_id, action=Action.PRESETUP_DONE
                ),
                ProgressChange(reservation_id="ZZZ-999999", action=Action.PRESETUP_DONE),
            ],
            actor="clerk01",
            source="staff",
        )

    report = refused.value.details
    assert [(r.reservation_id, r.code) for r in report.refused] == [
        (residents[0].reservation_id, "final_phase"),
        (residents[1].reservation_id, "presetup_not_done"),
        ("ZZZ-999999", "unknown_reservation_id"),
    ]
    assert all(r.reason for r in report.refused)
    # The legal third change was not recorded either: all or nothing.
    events = (await issuance_session.scalars(select(ProgressEvent.resident_id))).all()
    assert residents[2].id not in events


async def test_stored_phase_equals_the_phase_derived_from_events(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 4)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    await advance(issuance_session, residents[1:], Action.NOTICE_PRINTED)
    await advance(issuance_session, residents[2:], Action.RESERVED)
    await advance(issuance_session, residents[3:], Action.RESERVATION_CANCELLED)

    assert await verify_progress(issuance_session) == []
    phases = await _phases(issuance_session)
    assert [phases[r.id] for r in residents] == [
        "presetup_done",
        "notice_sent",
        "reserved",
        "notice_sent",
    ]

    # Tamper with the derived state: the check notices.
    await issuance_session.execute(
        text("UPDATE card_progress SET phase = 'issued' WHERE resident_id = :id"),
        {"id": residents[0].id},
    )
    [mismatch] = await verify_progress(issuance_session)
    assert (mismatch.resident_id, mismatch.stored, mismatch.derived) == (
        residents[0].id,
        "issued",
        "presetup_done",
    )


async def test_events_are_append_only(issuance_session: AsyncSession) -> None:
    residents = await add_residents(issuance_session, 1)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)

    with pytest.raises(DBAPIError, match="append-only"):
        async with issuance_session.begin_nested():
            await issuance_session.execute(text("UPDATE progress_events SET actor = 'someone'"))


@pytest.mark.parametrize(
    "statement", ["TRUNCATE progress_events CASCADE", "TRUNCATE residents CASCADE"]
)
async def test_events_survive_a_truncate_unless_it_is_meant(
    issuance_session: AsyncSession, statement: str
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)

    with pytest.raises(DBAPIError, match="progress_events is append-only: TRUNCATE refused"):
        async with issuance_session.begin_nested():
            await issuance_session.execute(text(statement))
    assert len((await issuance_session.scalars(select(ProgressEvent))).all()) == 2

    async with issuance_session.begin_nested():
        await issuance_session.execute(text(TRUNCATE_ON_PURPOSE))
        await issuance_session.execute(text(statement))
    assert (await issuance_session.scalars(select(ProgressEvent))).all() == []


async def test_presetup_file_is_all_or_nothing_and_a_second_import_changes_nothing(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 3)
    good = _results(
        (residents[0].reservation_id, "済", "2026-04-01", "city-hall", ""),
        (residents[1].reservation_id, "エラー", "2026-04-01", "", "ICチップ不良"),
        (residents[2].reservation_id, "済", "令和8年4月1日", "", ""),
    )

    first = await import_results(issuance_session, good, "presetup", actor="batch")
    second = await import_results(issuance_session, good, "presetup", actor="batch")

    assert (first.applied, first.unchanged) == (3, 0)
    assert (second.applied, second.unchanged) == (0, 3)
    phases = await _phases(issuance_session)
    # エラー keeps the card at imported, with the failure reason on the event.
    assert [phases[r.id] for r in residents] == ["presetup_done", "imported", "presetup_done"]
    failure = await issuance_session.scalar(
        select(ProgressEvent).where(ProgressEvent.action == "presetup_failed")
    )
    assert failure is not None
    assert failure.reason == "ICチップ不良"
    assert failure.occurred_on == dt.date(2026, 4, 1)


async def test_the_same_presetup_file_again_changes_nothing_after_cards_reached_a_final_phase(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 4)
    presetup = _results(
        *((r.reservation_id, "済", "2026-04-01", "", "") for r in residents),
    )
    await import_results(issuance_session, presetup, "presetup", actor="batch")
    await advance(issuance_session, residents[:1], Action.RETURNED)
    await advance(issuance_session, residents[1:2], Action.CANCELLED)
    await advance(issuance_session, residents[2:3], Action.EXPIRED)
    await advance(issuance_session, residents[3:], Action.ISSUED)
    before = await _phases(issuance_session)

    again = await import_results(issuance_session, presetup, "presetup", actor="batch")

    assert (again.applied, again.unchanged, again.refused) == (0, 4, [])
    assert await _phases(issuance_session) == before
    assert await verify_progress(issuance_session) == []


async def test_the_same_issued_file_again_changes_nothing(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 3)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    issued = _results(
        (residents[0].reservation_id, "交付済", "2026-04-02", "city-hall", ""),
        (residents[1].reservation_id, "返戻", "2026-04-02", "", "宛所不明"),
        (residents[2].reservation_id, "廃止", "2026-04-02", "", ""),
    )
    await import_results(issuance_session, issued, "issued", actor="batch")
    before = await _phases(issuance_session)

    again = await import_results(issuance_session, issued, "issued", actor="batch")

    assert (again.applied, again.unchanged, again.refused) == (0, 3, [])
    assert await _phases(issuance_session) == before


async def test_presetup_result_for_a_card_that_ended_before_presetup_is_still_refused(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 2)
    # Returned before 交付前設定 was ever done: 済 for it is no repeat, it is illegal.
    await advance(issuance_session, residents[:1], Action.RETURNED)

    with pytest.raises(ProgressRefused) as refused:
        await import_results(
            issuance_session,
            _results(
                (residents[0].reservation_id, "済", "2026-04-01", "", ""),
                (residents[1].reservation_id, "済", "2026-04-01", "", ""),
            ),
            "presetup",
            actor="batch",
        )

    [row] = refused.value.details.refused
    assert (row.reservation_id, row.code, row.phase, row.line) == (
        residents[0].reservation_id,
        "final_phase",
        "returned",
        2,
    )
    assert row.reason
    assert (await _phases(issuance_session)).get(residents[1].id) is None


async def test_issued_file_with_one_illegal_row_records_nothing(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 2)
    await advance(issuance_session, residents[:1], Action.PRESETUP_DONE)
    before = await _phases(issuance_session)

    with pytest.raises(ProgressRefused) as refused:
        await import_results(
            issuance_session,
            _results(
                (residents[0].reservation_id, "交付済", "2026-04-02", "city-hall", ""),
                # Not set up yet: cannot be handed over.
                (residents[1].reservation_id, "交付済", "2026-04-02", "city-hall", ""),
            ),
            "issued",
            actor="batch",
        )

    [row] = refused.value.details.refused
    assert (row.reservation_id, row.code, row.line) == (
        residents[1].reservation_id,
        "presetup_not_done",
        3,
    )
    assert await _phases(issuance_session) == before


async def test_malformed_result_file_is_refused_with_every_problem(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 1)

    with pytest.raises(ResultFileRefused) as refused:
        await import_results(
            issuance_session,
            _results(
                (residents[0].reservation_id, "済", "2026-02-30", "", ""),
                (residents[0].reservation_id, "たぶん", "2026-04-01", "", ""),
            ),
            "presetup",
            actor="batch",
        )

    assert len(refused.value.details.problems) == 2
    assert await _phases(issuance_session) == {}


async def test_an_over_long_or_malformed_location_code_is_a_problem_of_its_line(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 3)
    await advance(issuance_session, residents, Action.PRESETUP_DONE)
    too_long = "L" * 33

    with pytest.raises(ResultFileRefused) as refused:
        await import_results(
            issuance_session,
            _results(
                (residents[0].reservation_id, "交付済", "2026-04-02", "city-hall", ""),
                (residents[1].reservation_id, "交付済", "2026-04-02", too_long, ""),
                (residents[2].reservation_id, "交付済", "2026-04-02", "本庁", ""),
            ),
            "issued",
            actor="batch",
        )

    problems = refused.value.details.problems
    assert [(p.line, p.column, p.value) for p in problems] == [
        (3, "交付場所コード", too_long),
        (4, "交付場所コード", "本庁"),
    ]
    assert all(p.code == "value.malformed" for p in problems)
    assert set((await _phases(issuance_session)).values()) == {"presetup_done"}


async def test_dry_run_reports_without_recording(issuance_session: AsyncSession) -> None:
    residents = await add_residents(issuance_session, 2)
    data = _results(
        (residents[0].reservation_id, "済", "2026-04-01", "", ""),
        ("ZZZ-000001", "済", "2026-04-01", "", ""),
    )

    report = await import_results(issuance_session, data, "presetup", actor="batch", dry_run=True)

    assert (report.applied, len(report.refused), report.committed) == (1, 1, False)
    assert await _phases(issuance_session) == {}


async def test_lists_counts_and_csv_filter_by_phase_location_and_date(
    issuance_session: AsyncSession,
) -> None:
    residents = await add_residents(issuance_session, 5)
    await apply_changes(
        issuance_session,
        [
            ProgressChange(
                reservation_id=r.reservation_id,
                action=Action.PRESETUP_DONE,
                location_code="north" if index % 2 else "south",
            )
            for index, r in enumerate(residents[:3])
        ],
        actor="clerk",
        source="staff",
    )

    counts = await phase_counts(issuance_session, CardFilter(), tz=TOKYO)
    assert (counts.counts["imported"], counts.counts["presetup_done"], counts.total) == (2, 3, 5)
    assert counts.counts["issued"] == 0
    north = await list_cards(
        issuance_session, CardFilter(location_code="north"), tz=TOKYO, limit=10, offset=0
    )
    assert [item.reservation_id for item in north.items] == [residents[1].reservation_id]
    imported = await list_cards(
        issuance_session, CardFilter(phase=Phase.IMPORTED), tz=TOKYO, limit=1, offset=0
    )
    assert (imported.total, len(imported.items)) == (2, 1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    none_yet = await list_cards(
        issuance_session, CardFilter(changed_from=later), tz=TOKYO, limit=10, offset=0
    )
    assert none_yet.total == 0
    rows = await card_csv_rows(issuance_session, CardFilter(phase=Phase.PRESETUP_DONE), tz=TOKYO)
    assert len(rows) == 3
