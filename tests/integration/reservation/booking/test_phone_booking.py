"""Phone booking by staff, and the eligibility import's revocation seam."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.settings import Zone
from api.reservation.booking.controllers import route_options
from api.reservation.booking.revocation import cancel_bookings_of
from tests.integration.reservation.booking.conftest import (
    Places,
    log_in,
    rid,
    slot_time,
    staff_token,
)


async def test_staff_book_for_a_caller_from_the_staff_share_and_it_is_logged(
    client: AsyncTestClient[Litestar],
    places: Places,
    staff: dict[str, str],
    zone_database_urls: dict[Zone, str],
    tmp_path: Path,
) -> None:
    slot = await places.add_slot("slot", slot_time(3), online=0, staff=2)
    await places.add_eligible(1, 2)
    members = [
        {"reservation_id": rid(1).replace("-", "").lower(), "shipment_no": "s000001"},
        {"reservation_id": rid(2), "shipment_no": "S000002"},
    ]

    denied = await client.post(
        "/api/staff/bookings",
        headers=await staff_token(
            zone_database_urls[Zone.RESERVATION], tmp_path, "suzuki", "reservations.read"
        ),
        json={"slot_id": slot, "members": members},
    )
    assert denied.status_code == 403
    wrong = await client.post(
        "/api/staff/bookings",
        headers=staff,
        json={"slot_id": slot, "members": [{"reservation_id": rid(1), "shipment_no": "S9"}]},
    )
    assert wrong.json()["error"]["code"] == "member_login_failed"
    booked = await client.post(
        "/api/staff/bookings", headers=staff, json={"slot_id": slot, "members": members}
    )
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert (body["channel"], body["share"], body["members"]) == ("phone", "staff", [rid(1), rid(2)])
    row = await places.slot("slot")
    assert (row["online_booked"], row["staff_booked"]) == (0, 2)
    stored = await places.run("SELECT staff_login_id FROM bookings")
    assert stored[0]["staff_login_id"] == "tanaka"

    # The resident sees the phone booking; staff find it by ID and shipment number, or code.
    assert (await client.get("/api/resident/booking", headers=await log_in(client, 1))).json()[
        "confirmation_code"
    ] == body["confirmation_code"]
    found = await client.get(
        "/api/staff/bookings",
        headers=staff,
        params={"reservation_id": rid(2), "shipment_no": "S000002"},
    )
    assert found.json()["confirmation_code"] == body["confirmation_code"]
    code = body["confirmation_code"].replace("-", "").lower()
    assert (await client.get(f"/api/staff/bookings/{code}", headers=staff)).status_code == 200

    other = await places.add_slot("other", slot_time(4), online=2, staff=0)
    changed = await client.post(
        f"/api/staff/bookings/{code}/change",
        headers=staff,
        json={"slot_id": other, "share": "online"},
    )
    assert changed.json()["share"] == "online", changed.text
    assert (await places.slot("slot"))["staff_booked"] == 0
    assert (await places.slot("other"))["online_booked"] == 2
    cancelled = await client.post(f"/api/staff/bookings/{code}/cancel", headers=staff, json={})
    assert cancelled.json()["status"] == "cancelled"

    log = await places.run(
        "SELECT outcome, actor, resource_ids FROM access_log "
        "WHERE actor_kind IN ('staff', 'token') AND outcome LIKE 'phone_booking%' ORDER BY sequence"
    )
    assert [entry["outcome"] for entry in log] == [
        "phone_booking",
        "phone_booking_changed",
        "phone_booking_cancelled",
    ]
    assert all(entry["actor"] == "tanaka" for entry in log)
    assert body["confirmation_code"] in log[0]["resource_ids"]


def test_every_route_declares_who_may_call_it() -> None:
    options = route_options()
    resident = {name: opt for name, opt in options.items() if name.startswith("Resident")}
    staff = {name: opt for name, opt in options.items() if name.startswith("PhoneBooking")}
    assert resident
    assert staff
    assert all(opt.get("public") for opt in resident.values())
    assert all(opt.get("permission") == "reservations.proxy" for opt in staff.values())
    assert not any(opt.get("public") for opt in staff.values())


async def test_revocation_takes_the_id_out_and_keeps_the_rest_of_the_household(
    client: AsyncTestClient[Litestar], places: Places, reservation_session: AsyncSession
) -> None:
    # ``client`` is here only for its cleanup of the committed rows.
    slot = await places.add_slot("slot", slot_time(3), online=4)
    await places.add_eligible(1, 2, 3)
    headers = await log_in(client, 1)
    booked = await client.post(
        "/api/resident/booking",
        headers=headers,
        json={"slot_id": slot, "members": [{"reservation_id": rid(2), "password": "0303"}]},
    )
    assert booked.status_code == 201, booked.text
    solo = await client.post(
        "/api/resident/booking", headers=await log_in(client, 3), json={"slot_id": slot}
    )
    assert solo.status_code == 201

    released = await cancel_bookings_of(reservation_session, [rid(2), rid(3), rid(9)], "issued")
    assert released == 2
    rows = (
        await reservation_session.execute(
            sqlalchemy.text(
                "SELECT b.status, b.party_size, s.online_booked FROM bookings b "
                "JOIN slots s ON s.id = b.slot_id ORDER BY b.id"
            )
        )
    ).all()
    assert [(row.status, row.party_size) for row in rows] == [("booked", 1), ("cancelled", 1)]
    assert rows[0].online_booked == 1


async def test_revocation_leaves_a_booking_whose_slot_has_begun_as_history(
    client: AsyncTestClient[Litestar], places: Places, reservation_session: AsyncSession
) -> None:
    # ``client`` is here only for its cleanup of the committed rows.
    slot = await places.add_slot("slot", slot_time(3), online=4)
    await places.add_eligible(1)
    booked = await client.post(
        "/api/resident/booking", headers=await log_in(client, 1), json={"slot_id": slot}
    )
    assert booked.status_code == 201, booked.text
    # The resident came yesterday: move the slot into the past, as time would have.
    await places.run(
        "UPDATE slots SET starts_at = now() - interval '1 day', "
        "ends_at = now() - interval '1 day' + interval '30 minutes' WHERE id = $1",
        slot,
    )

    released = await cancel_bookings_of(reservation_session, [rid(1)], "issued")

    status = await reservation_session.scalar(sqlalchemy.text("SELECT status FROM bookings"))
    assert (released, status) == (0, "booked")


def hours_from_now(hours: float) -> dt.datetime:
    """A slot start ``hours`` from now, to the minute."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)


async def test_staff_book_and_cancel_for_a_caller_past_the_online_deadlines(
    client: AsyncTestClient[Litestar], places: Places, staff: dict[str, str]
) -> None:
    # Three hours ahead: closed online (24 hours before), open to the counter's staff.
    soon = await places.add_slot("soon", hours_from_now(3), online=2, staff=2)
    await places.add_eligible(1, 2)
    online = await client.post(
        "/api/resident/booking", headers=await log_in(client, 2), json={"slot_id": soon}
    )
    assert online.json()["error"]["code"] == "deadline_passed"
    booked = await client.post(
        "/api/staff/bookings",
        headers=staff,
        json={"slot_id": soon, "members": [{"reservation_id": rid(1), "shipment_no": "S000001"}]},
    )
    assert booked.status_code == 201, booked.text
    code = booked.json()["confirmation_code"]
    # The resident may no longer cancel online; staff may, and the seat goes back.
    resident = await client.post(
        "/api/resident/booking/cancel", headers=await log_in(client, 1), json={}
    )
    assert resident.json()["error"]["code"] == "change_deadline_passed"
    cancelled = await client.post(f"/api/staff/bookings/{code}/cancel", headers=staff, json={})
    assert cancelled.status_code == 200, cancelled.text
    assert (await places.slot("soon"))["staff_booked"] == 0


async def test_staff_cannot_book_a_time_that_has_begun(
    client: AsyncTestClient[Litestar], places: Places, staff: dict[str, str]
) -> None:
    begun = await places.add_slot("begun", hours_from_now(-0.25), online=2, staff=2)
    await places.add_eligible(1)
    refused = await client.post(
        "/api/staff/bookings",
        headers=staff,
        json={"slot_id": begun, "members": [{"reservation_id": rid(1), "shipment_no": "S000001"}]},
    )
    assert refused.json()["error"]["code"] == "deadline_passed"


async def test_a_residents_own_change_of_a_phone_booking_takes_online_seats(
    client: AsyncTestClient[Litestar], places: Places, staff: dict[str, str]
) -> None:
    first = await places.add_slot("first", slot_time(3), online=0, staff=1)
    # Room online only: the calendar shows it free to residents.
    second = await places.add_slot("second", slot_time(4), online=3, staff=0)
    await places.add_eligible(1)
    booked = await client.post(
        "/api/staff/bookings",
        headers=staff,
        json={"slot_id": first, "members": [{"reservation_id": rid(1), "shipment_no": "S000001"}]},
    )
    assert booked.json()["share"] == "staff"
    changed = await client.post(
        "/api/resident/booking/change",
        headers=await log_in(client, 1),
        json={"slot_id": second},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["share"] == "online"
    first_row, second_row = await places.slot("first"), await places.slot("second")
    assert (first_row["staff_booked"], first_row["online_booked"]) == (0, 0)
    assert (second_row["staff_booked"], second_row["online_booked"]) == (0, 1)
