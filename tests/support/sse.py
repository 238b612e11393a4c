"""A Server-Sent Events reader for tests: reads the raw stream of `GET /api/events/stream` and parses it as a
browser's EventSource would (id, event, data, retry; comment lines kept, so heartbeats can be seen)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson


@dataclass
class Message:
    id: str | None = None
    event: str = "message"
    data: str = ""
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return orjson.loads(self.data)


class Stream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self, timeout: float = 30.0) -> Message:
        """The next message with data (comments seen on the way are kept in `comments`)."""
        message = Message()
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("the stream ended")
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if message.data or message.event != "message":
                        return message
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    message.data = f"{message.data}\n{value}" if message.data else value
                elif name == "id":
                    message.id = value
                elif name == "event":
                    message.event = value

    async def comment(self, timeout: float = 30.0) -> str:
        """Read on until a comment line (a heartbeat) comes; messages on the way are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("the stream ended")
                if raw.startswith(b":"):
                    self.comments.append(raw.decode()[1:].strip())
                    return self.comments[-1]

    async def events(self, count: int, timeout: float = 30.0) -> list[Message]:
        return [await self.next(timeout) for _ in range(count)]

    async def close(self) -> None:
        self.response.close()


async def open_stream(session: aiohttp.ClientSession, base: str, headers: dict[str, str],
                      **params: str) -> Stream:
    response = await session.get(base + "/api/events/stream", headers=headers, params=params,
                                 timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return Stream(response)
