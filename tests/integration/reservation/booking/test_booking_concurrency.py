"""No overbooking, ever: two server processes, one database, many concurrent residents.

Residents log in on either process and book, book for households, change and cancel at
a few small slots all at once; household members also race to book on their own.
Afterwards the database must agree with every acknowledged answer, and with itself.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.core.settings import Zone
from tests.integration.reservation.booking.conftest import (
    PASSWORD_KEY,
    Places,
    password_of,
    rid,
    slot_time,
)

ROOT = Path(__file__).resolve().parents[4]
BOOKERS = range(1, 81)
# Bookers 1..40 bring one household member each (101..140); members 101..120 also try to
# book for themselves at the same moment.
MEMBER_OFFSET = 100
ROUNDS = 5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def servers(zone_database_urls: dict[Zone, str], tmp_path: Path) -> Iterator[list[str]]:
    environment = {
        **os.environ,
        "RESERVATION_DATABASE_URL": zone_database_urls[Zone.RESERVATION],
        "RESERVATION_SECRET_KEY": "concurrency-test-secret-key-0123456789",
        "RESERVATION_PASSWORD_KEY": PASSWORD_KEY.decode(),
        "RESERVATION_LOGIN_RATE_LIMIT": "0",
        "RESERVATION_DATABASE_POOL_SIZE": "10",
        "MADOGUCHI_VAR_DIR": str(tmp_path),
        "MADOGUCHI_LOG_LEVEL": "WARNING",
    }
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.reservation.booking.standalone:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
                # httpx reuses idle connections; the server must not close them under it.
                "--timeout-keep-alive",
                "120",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"server-{port}.log").open("wb"),
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 30
        for base, process in zip(bases, processes, strict=True):
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


@dataclass
class Ledger:
    """What the servers acknowledged: per confirmation code, its last acknowledged state."""

    bookings: dict[str, tuple[str, int, tuple[str, ...]]] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)

    def note(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)
        if response.status_code >= 400:
            code = response.json()["error"]["code"]
            self.refusals[code] = self.refusals.get(code, 0) + 1

    def acknowledge(self, body: dict[str, object]) -> None:
        members = body["members"]
        assert isinstance(members, list)
        slot_id = body["slot_id"]
        assert isinstance(slot_id, int)
        self.bookings[str(body["confirmation_code"]).replace("-", "")] = (
            str(body["status"]),
            slot_id,
            tuple(members),
        )


async def _resident(
    client: httpx.AsyncClient,
    bases: list[str],
    number: int,
    slots: list[int],
    ledger: Ledger,
    *,
    member: int | None,
    rounds: int,
) -> None:
    chance = random.Random(number)
    base = chance.choice(bases)
    login = await client.post(
        f"{base}/api/resident/login",
        json={"reservation_id": rid(number), "password": password_of(number)},
    )
    ledger.note(login)
    assert login.status_code == 200, login.text
    headers = {"authorization": f"Bearer {login.json()['session_token']}"}
    code: str | None = None
    slot: int | None = None
    for _ in range(rounds):
        base = chance.choice(bases)  # each request to either process
        if code is None:
            slot = chance.choice(slots)
            members = (
                [{"reservation_id": rid(member), "password": password_of(member)}] if member else []
            )
            response = await client.post(
                f"{base}/api/resident/booking",
                headers=headers,
                json={"slot_id": slot, "members": members},
            )
            if response.status_code == 201:
                code = response.json()["confirmation_code"].replace("-", "")
                ledger.acknowledge(response.json())
        elif chance.random() < 0.6:
            target = chance.choice([s for s in slots if s != slot])
            response = await client.post(
                f"{base}/api/resident/booking/change", headers=headers, json={"slot_id": target}
            )
            if response.status_code == 200:
                slot = target
                ledger.acknowledge(response.json())
        else:
            response = await client.post(
                f"{base}/api/resident/booking/cancel", headers=headers, json={}
            )
            if response.status_code == 200:
                ledger.acknowledge(response.json())
                code = None
        ledger.note(response)


@pytest.mark.slow
async def test_two_processes_never_overbook_and_agree_with_every_answer(
    servers: list[str], places: Places
) -> None:
    slots = [
        await places.add_slot(f"slot{index}", slot_time(3, hour=9 + index), online=6, staff=2)
        for index in range(4)
    ]
    await places.add_eligible(*BOOKERS, *(n + MEMBER_OFFSET for n in range(1, 41)))
    ledger = Ledger()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tasks = [
            _resident(
                client,
                servers,
                number,
                slots,
                ledger,
                member=number + MEMBER_OFFSET if number <= 40 else None,
                rounds=ROUNDS,
            )
            for number in BOOKERS
        ]
        tasks += [
            _resident(client, servers, number + MEMBER_OFFSET, slots, ledger, member=None, rounds=1)
            for number in range(1, 21)
        ]
        await asyncio.gather(*tasks)

    assert not [status for status in ledger.statuses if status >= 500]
    assert ledger.refusals.get("slot_full", 0) > 0  # the slots really were contended
    assert len(ledger.bookings) > 10

    slot_rows = await places.run("SELECT * FROM slots ORDER BY id")
    recount = {
        (row["slot_id"], row["share"]): row["seats"]
        for row in await places.run(
            "SELECT slot_id, share, sum(party_size) AS seats FROM bookings "
            "WHERE status <> 'cancelled' GROUP BY slot_id, share"
        )
    }
    for row in slot_rows:
        assert row["online_booked"] <= row["online_capacity"]
        assert row["staff_booked"] <= row["staff_capacity"]
        assert row["online_booked"] == recount.get((row["id"], "online"), 0)
        assert row["staff_booked"] == recount.get((row["id"], "staff"), 0)

    stored = {
        row["confirmation_code"]: row
        for row in await places.run(
            "SELECT b.confirmation_code, b.status, b.slot_id, b.party_size, "
            "count(m.id) FILTER (WHERE m.active) AS active_members, count(m.id) AS members "
            "FROM bookings b LEFT JOIN booking_members m ON m.booking_id = b.id "
            "GROUP BY b.id"
        )
    }
    # Every acknowledged booking exists exactly once, as the last answer about it said.
    assert len(stored) == len(ledger.bookings)
    for code, (status, slot_id, members) in ledger.bookings.items():
        row = stored[code]
        assert (row["status"] == "cancelled") == (status == "cancelled")
        assert row["slot_id"] == slot_id
        assert row["members"] == len(members)
    # No household is half made: an active booking has all its members, a cancelled none.
    for row in stored.values():
        expected = 0 if row["status"] == "cancelled" else row["party_size"]
        assert row["active_members"] == expected
    duplicates = await places.run(
        "SELECT reservation_id FROM booking_members WHERE active "
        "GROUP BY reservation_id HAVING count(*) > 1"
    )
    assert duplicates == []
