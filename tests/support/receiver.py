"""A real HTTP endpoint for webhook tests: an aiohttp server on a loopback port that records every request (raw
body, headers) and answers as the test scripts it (a status, a hang past the sender's timeout, Retry-After, a
redirect, a large body)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gateway.webhooks import signing


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    path: str
    answered: int = 0
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict[str, Any]:
        return orjson.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["Vigil-Delivery"]

    def signed_by(self, secret: str) -> bool:
        return signing.verify(self.headers["Vigil-Signature"], secret, self.body)


Answer = Callable[[Received], Awaitable[web.StreamResponse | int]]


async def ok(_: Received) -> int:
    return 200


class Receiver:
    def __init__(self, answer: Answer = ok) -> None:
        self.answer = answer
        self.received: list[Received] = []
        self.arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        got = Received(await request.read(), dict(request.headers), request.path)
        self.received.append(got)
        async with self.arrived:
            self.arrived.notify_all()
        answer = await self.answer(got)
        response = web.Response(status=answer) if isinstance(answer, int) else answer
        got.answered = response.status
        async with self.arrived:
            self.arrived.notify_all()
        return response

    def successes(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]

    async def wait_for(self, check: Callable[[Receiver], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            async with self.arrived:
                await self.arrived.wait_for(lambda: check(self))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
