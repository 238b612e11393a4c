"""The live event stream for dashboards: `GET /api/events/stream`, Server-Sent Events of the caller's tenant,
filtered by type and resource, resumable with `Last-Event-ID`, with heartbeats (gateway/events/stream.py says
how it is fed and why a slow client is dropped rather than waited for)."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from gateway.events.registry import unknown_patterns
from gateway.routing import Routes
from gateway.schemas.events import StreamQuery
from gateway.state import event_hub, principal
from vigil.runtime.errors import FieldError, ValidationFailed

routes = Routes("tenant", tags=("events",))
EVENT_STREAM = "text/event-stream"
RETRY_MS = 3000


@routes.get("/api/events/stream", summary="Live events of this tenant (Server-Sent Events)", scope=None,
            query=StreamQuery, produces=(EVENT_STREAM,))
async def event_stream(request: web.Request, query: StreamQuery) -> web.StreamResponse:
    """Each message is `id: <event id>` and `data: <Event JSON>` (the webhook payload). Only events whose
    resources the caller may read arrive (an `incident.*` event needs `incidents:read`). `Last-Event-ID`
    replays what followed that event from the tenant's recent history; when the id is no longer there the
    first message is `event: reset` (re-read through the REST API, then follow the stream). A comment line
    `: heartbeat` comes when nothing else did for the heartbeat interval. A client that reads too slowly is
    disconnected; it reconnects with `Last-Event-ID`."""
    bad = unknown_patterns(query.types)
    if bad:
        raise ValidationFailed("unknown event types", [FieldError("types", ", ".join(bad))])
    hub = event_hub(request)
    caller = principal(request)
    await hub.wait_ready(timeout=5.0)
    response = web.StreamResponse(headers={"Content-Type": EVENT_STREAM, "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    transport = request.transport
    client, backlog = hub.connect(
        {"tenant_id": caller.tenant_id, "scopes": caller.scopes, "types": tuple(query.types),
         "resource_type": query.resource_type, "resource_id": query.resource_id},
        request.headers.get("Last-Event-ID"), transport.abort if transport is not None else lambda: None)
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        if backlog is None:
            reason = {"reason": "Last-Event-ID is not in the recent history: re-read, then follow the stream",
                      "last_event_id": request.headers.get("Last-Event-ID")}
            await response.write(b"event: reset\ndata: " + orjson.dumps(reason) + b"\n\n")
        else:
            for event in backlog:
                await response.write(event.frame)
        while not client.dropped:
            try:
                async with asyncio.timeout(hub.heartbeat_seconds):
                    event = await client.queue.get()
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if event is None:  # the gateway is shutting down
                break
            await response.write(event.frame)
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away, or was dropped for falling behind
    finally:
        hub.disconnect(client)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response
