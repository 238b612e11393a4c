"""Run an ASGI application for one aiohttp request. The MCP SDK's streamable HTTP transport is an ASGI app;
the gateway is aiohttp: this adapter hands it the request (scope, a `receive` that yields the body once and then
waits for the client to go away) and writes what it sends back as an aiohttp stream response."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def scope_of(request: web.Request, **extra: Any) -> Scope:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": request.method, "scheme": request.scheme, "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode(), "query_string": request.query_string.encode(),
        "root_path": "", "headers": [(k.lower(), v) for k, v in request.raw_headers],
        "client": tuple(peer[:2]) if peer else None, "server": tuple(sock[:2]) if sock else None,
        "state": {}, **extra,
    }


async def run(app: ASGIApp, request: web.Request, **extra: Any) -> web.StreamResponse:
    """Serve `request` with `app`; `extra` goes into the ASGI scope (what the app's handlers may read)."""
    body = await request.read()
    delivered = False
    response: web.StreamResponse | None = None
    finished = asyncio.Event()

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # nothing more to read: wait until the answer is done (or the client left)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            response = web.StreamResponse(status=message["status"])
            for key, value in message.get("headers", ()):
                name = key.decode("latin-1")
                if name.lower() not in ("content-length", "transfer-encoding"):
                    response.headers.add(name, value.decode("latin-1"))
            await response.prepare(request)
        elif message["type"] == "http.response.body" and response is not None:
            chunk = message.get("body", b"")
            if chunk:
                await response.write(chunk)
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope_of(request, **extra), receive, send)
    finally:
        finished.set()
    if response is None:
        return web.Response(status=500)
    await response.write_eof()
    return response
