from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from api.issuance.exchange.models import Booking
from api.issuance.models import Resident
from api.issuance.progress.controllers import MAX_RESULT_FILE_BYTES
from api.issuance.progress.queries import CardFilter, list_cards, phase_counts
from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.visitors import AttendanceInput, mark_attendance, visitor_list
from tests.integration.issuance.progress.app_fixtures import build_app
from tests.integration.issuance.progress.factories import add_residents, advance

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = dt.date(2026, 5, 11)


def _booking(resident: Resident, code: str, hour: int, companions: list[str]) -> Booking:
    start = dt.datetime.combine(DAY, dt.time(hour, 0), tzinfo=TOKYO)
    return Booking(
        resident_id=resident.id,
        confirmation_code=code,
        location_code="city-hall",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=15),
        status="booked",
        channel="web",
        companion_ids=companions,
        memo="",
        source_updated_at=start - dt.timedelta(days=2),
    )


async def _household_day(session: AsyncSession) -> list[Resident]:
    """Three residents: a household of two at 10:00 (one not ready), one alone at 9:00."""
    residents = await add_residents(session, 3, surname='=HYPERLINK("x")')
    await advance(session, residents[:1] + residents[2:], Action.PRESETUP_DONE, Action.RESERVED)
    a, b, c = residents
    session.add_all(
        [
            _booking(a, "H0000001", 10, [b.reservation_id]),
            _booking(b, "H0000001", 10, [a.reservation_id]),
            _booking(c, "S0000001", 9, []),
        ]
    )
    await session.flush()
    return residents


async def test_visitor_list_groups_households_by_time_and_shows_readiness(
    issuance_session: AsyncSession,
) -> None:
    a, b, _ = await _household_day(issuance_session)

    visitors = await visitor_list(issuance_session, "city-hall", DAY, TOKYO)

    assert [g.confirmation_code for g in visitors.groups] == ["S0000001", "H0000001"]
    household = visitors.groups[1]
    assert [(m.reservation_id, m.ready) for m in household.members] == [
        (a.reservation_id, True),
        (b.reservation_id, False),
    ]
    assert household.starts_at.hour == 10
    assert (visitors.visitors, visitors.not_ready) == (3, 1)
    other_day = await visitor_list(issuance_session, "city-hall", DAY + dt.timedelta(days=1), TOKYO)
    assert other_day.groups == []


async def test_a_card_marked_issued_from_the_visitor_list_counts_at_the_bookings_location(
    issuance_session: AsyncSession,
) -> None:
    a, _, _ = await _household_day(issuance_session)

    result = await mark_attendance(
        issuance_session,
        AttendanceInput(
            confirmation_code="H0000001", reservation_id=a.reservation_id, mark="issued"
        ),
        actor="tester",
    )

    assert result.phase is Phase.ISSUED
    counts = await phase_counts(issuance_session, CardFilter(location_code="city-hall"), tz=TOKYO)
    assert counts.counts["issued"] == 1
    issued_here = await list_cards(
        issuance_session,
        CardFilter(phase=Phase.ISSUED, location_code="city-hall"),
        tz=TOKYO,
        limit=10,
        offset=0,
    )
    assert [card.reservation_id for card in issued_here.items] == [a.reservation_id]


async def test_visitor_csv_and_attendance_over_http(
    progress_client: AsyncTestClient[Litestar], committed_session: AsyncSession
) -> None:
    a, b, _ = await _household_day(committed_session)
    await committed_session.commit()

    answer = await progress_client.get(
        "/api/visitors/list.csv", params={"location_code": "city-hall", "day": DAY.isoformat()}
    )
    assert answer.status_code == 200
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["開始時刻", "終了時刻", "予約番号"]
    # Names that look like formulas are neutralised for spreadsheets.
    assert all(row[4].startswith("'=HYPERLINK") for row in rows[1:])
    assert [row[2] for row in rows[1:]] == ["S0000001", "H0000001", "H0000001"]

    issued = await progress_client.post(
        "/api/visitors/attendance",
        json={
            "confirmation_code": "H0000001",
            "reservation_id": a.reservation_id,
            "mark": "issued",
        },
    )
    not_ready = await progress_client.post(
        "/api/visitors/attendance",
        json={
            "confirmation_code": "H0000001",
            "reservation_id": b.reservation_id,
            "mark": "issued",
        },
    )
    no_show = await progress_client.post(
        "/api/visitors/attendance",
        json={
            "confirmation_code": "H0000001",
            "reservation_id": b.reservation_id,
            "mark": "no_show",
        },
    )

    assert (issued.status_code, issued.json()["phase"]) == (201, "issued")
    assert not_ready.status_code == 409
    assert not_ready.json()["error"]["details"]["refused"][0]["code"] == "presetup_not_done"
    assert no_show.status_code == 201
    page = await progress_client.get(f"/api/resident-pages/{b.reservation_id}")
    assert page.json()["bookings"][0]["attendance"] == "no_show"
    assert page.json()["phase"] == "imported"


async def test_progress_routes_record_refuse_list_and_export(
    progress_client: AsyncTestClient[Litestar], committed_session: AsyncSession
) -> None:
    residents = await add_residents(committed_session, 3)
    await committed_session.commit()
    ids = [r.reservation_id for r in residents]

    bulk = await progress_client.post(
        "/api/progress/changes", json={"action": "presetup_done", "reservation_ids": ids[:2]}
    )
    refused = await progress_client.post(
        f"/api/progress/cards/{ids[2]}/changes", json={"action": "issued", "reason": "窓口"}
    )
    unknown_field = await progress_client.post(
        f"/api/progress/cards/{ids[2]}/changes", json={"action": "issued", "colour": "red"}
    )
    printed = await progress_client.post("/api/notices/printed", json={"reservation_ids": ids[:1]})
    letters = await progress_client.get("/api/notices/letters")
    counts = await progress_client.get("/api/progress/counts")
    listed = await progress_client.get("/api/progress/cards", params={"phase": "notice_sent"})
    exported = await progress_client.get("/api/progress/cards.csv", params={"phase": "imported"})
    memo = await progress_client.post(
        f"/api/resident-pages/{ids[0]}/memos", json={"body": "電話あり"}
    )
    page = await progress_client.get(f"/api/resident-pages/{ids[0]}")
    verify = await progress_client.get("/api/progress/verify")

    assert bulk.status_code == 201
    assert bulk.json()["applied"] == 2
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "progress_refused"
    assert refused.json()["error"]["details"]["refused"][0]["reason"]
    assert unknown_field.status_code == 400
    assert printed.json()["applied"] == 1
    assert [item["reservation_id"] for item in letters.json()["items"]] == [ids[1]]
    assert counts.json()["counts"]["notice_sent"] == 1
    assert [item["reservation_id"] for item in listed.json()["items"]] == [ids[0]]
    assert exported.text.count(ids[2]) == 1
    assert memo.status_code == 201
    body = page.json()
    assert [event["phase_after"] for event in body["timeline"]] == ["presetup_done", "notice_sent"]
    assert body["memos"][0]["body"] == "電話あり"
    assert body["card"]["certificate_info"] == {"signature": False, "authentication": False}
    assert verify.json() == []
    missing = await progress_client.get("/api/resident-pages/ZZZ-000000")
    assert missing.status_code == 404


def test_every_route_names_its_permission(tmp_path) -> None:
    app = build_app("postgresql+asyncpg://unused/unused", tmp_path)
    prefixes = (
        "/api/progress",
        "/api/resident-pages",
        "/api/notices",
        "/api/visitors",
        "/api/sync",
    )
    handlers = [
        handler
        for route in app.routes
        if route.path.startswith(prefixes)
        for handler in getattr(route, "route_handlers", [])
        if "OPTIONS" not in handler.http_methods
    ]
    assert len(handlers) == 21
    assert all(handler.opt.get("permission") for handler in handlers)


async def test_a_result_file_over_litestars_default_10_mb_is_read(
    progress_client: AsyncTestClient[Litestar],
) -> None:
    # 11 MiB of UTF-16: refused for its encoding, which means it was read, not for its size.
    content = codecs.BOM_UTF16_LE + bytes(11 << 20)
    answer = await progress_client.post("/api/progress/results/presetup", content=content)

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "result_file_refused"
    assert error["details"]["problems"][0]["code"] == "file.unsupported_encoding"


async def test_a_result_file_over_the_limit_is_refused_with_the_limit_named(
    progress_client: AsyncTestClient[Litestar],
) -> None:
    # The announced size is enough: the route refuses before reading the body.
    answer = await progress_client.post(
        "/api/progress/results/issued",
        content=b"x",
        headers={"Content-Length": str(MAX_RESULT_FILE_BYTES + 1)},
    )

    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "too_large"
    assert error["message"] == (
        "the uploaded file is larger than 128 MiB, the most /api/progress/results/issued accepts"
    )
