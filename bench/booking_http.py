"""The booking surge's HTTP side: a :class:`~bench.booking_scenario.Client` over HTTP/1.1.

Each client is one raw keep-alive connection (``bench.keep_alive``), as a proxy in front
of the replicas would hold it, and names the resident's own address in
``X-Forwarded-For`` (the server trusts 127.0.0.1 as its proxy, so the per-client rate
limit is live).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bench.booking_scenario import LOCATION, Resident, Slot, Tally
from bench.keep_alive import KeepAliveConnection


class HttpClient:
    """One keep-alive HTTP/1.1 connection, raw asyncio streams (no client library)."""

    def __init__(self, connection: KeepAliveConnection, tally: Tally) -> None:
        self.connection, self.tally = connection, tally
        self.token = ""

    @classmethod
    async def open(cls, port: int, tally: Tally) -> HttpClient:
        """Connect to the server on ``port``; 5xx answers are counted in ``tally``."""
        return cls(await KeepAliveConnection.open(port), tally)

    async def request(
        self, method: str, path: str, resident: Resident, body: object = None
    ) -> tuple[int, Any]:
        """The status and decoded JSON answer (``None`` when empty or a 5xx)."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: {resident.address}\r\n"
        if self.token:
            head += f"Authorization: Bearer {self.token}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        response, answer = await self.connection.exchange(head.encode() + b"\r\n" + payload)
        status = int(response[9:12])
        if status >= 500:
            self.tally.server_errors += 1
            return status, None
        return status, json.loads(answer) if answer else None

    @staticmethod
    def code(status: int, answer: Any) -> str:
        """The refusal code of an answer that is not a success."""
        return "5xx" if status >= 500 else str(answer["error"]["code"])

    async def login(self, resident: Resident) -> str | None:
        """Log in; ``None`` on success, else the refusal code."""
        self.token = ""
        status, answer = await self.request(
            "POST",
            "/api/resident/login",
            resident,
            {"reservation_id": resident.reservation_id, "password": resident.password},
        )
        if status != 200:
            return self.code(status, answer)
        self.token = answer["session_token"]
        return None

    async def day(self, resident: Resident, day: dt.date) -> list[Slot]:
        """The slots of one day with remaining online places."""
        status, answer = await self.request(
            "GET", f"/api/locations/{LOCATION}/days/{day.isoformat()}", resident
        )
        if status != 200:
            return []
        return [
            Slot(slot["slot_id"], slot["remaining_online"], slot["bookable"])
            for slot in answer["slots"]
        ]

    async def book(self, resident: Resident, slot_id: int) -> str | None:
        """Book (with the household member, if any); ``None`` on success, else the code."""
        members = (
            [{"reservation_id": resident.member[0], "password": resident.member[1]}]
            if resident.member
            else []
        )
        status, answer = await self.request(
            "POST", "/api/resident/booking", resident, {"slot_id": slot_id, "members": members}
        )
        return None if status == 201 else self.code(status, answer)

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
