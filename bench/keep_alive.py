"""The load generators' connection: raw keep-alive HTTP/1.1 over asyncio streams.

No client library on purpose: a benchmark's client must cost next to nothing beside the
server it measures. One request at a time per connection; answers carry
``Content-Length`` (the servers under test never chunk).
"""

from __future__ import annotations

import asyncio


class KeepAliveConnection:
    """One HTTP/1.1 connection to 127.0.0.1 kept open across requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> KeepAliveConnection:
        """Connect to ``port`` on 127.0.0.1."""
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def exchange(self, request: bytes) -> tuple[bytes, bytes]:
        """Send one whole request; the answer's head (status line and headers) and body."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return head, await self.reader.readexactly(length)

    def close(self) -> None:
        """Close the connection without waiting."""
        self.writer.close()
