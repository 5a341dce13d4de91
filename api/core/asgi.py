"""ASGI pieces the app-wide wrappers share (access log, request metrics)."""

from __future__ import annotations

from litestar.types import Message, Send


class ResponseStatus:
    """A ``send`` that passes messages on and remembers the response's status.

    The status stays 500 until a response starts: what the client gets if the app fails
    before answering.
    """

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        """Note the status of ``http.response.start``, then send the message."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)
