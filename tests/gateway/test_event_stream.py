"""The live event stream (SSE) on an in-process gateway fed by the real Kafka topics: tenancy and filters,
`Last-Event-ID` resume and the `reset` beyond the history, heartbeats, and back-pressure (a client that stops
reading is dropped while another keeps receiving)."""

from __future__ import annotations

import asyncio
import socket

import orjson
import pytest

from gateway.events.registry import Published
from gateway.scopes import Scope
from tests.support import api
from tests.support.sse import open_stream

pytestmark = pytest.mark.kafka


@pytest.mark.gateway_settings(event_stream_heartbeat_seconds=0.5, event_stream_history=5)
async def test_filters_tenancy_resume_reset_and_heartbeats(outbound_env):
    session, base, control = outbound_env["session"], outbound_env["tenant"], outbound_env["control"]
    mine = await api.tenant(session, base, control)
    theirs = (await api.tenant(session, base, control))["responder"]
    viewer, responder = mine["viewer"], mine["responder"]
    everything = await open_stream(session, base, viewer.headers)
    one = everything
    moves = await open_stream(session, base, viewer.headers, types="incident.transitioned")
    try:
        await theirs.post("/api/incidents", {"title": "not yours", "severity": "P1"})
        made = (await responder.post("/api/incidents", {"title": "streamed", "severity": "P2"})).data
        seen = [await everything.next()]  # its creation, before following that one incident
        one = await open_stream(session, base, viewer.headers, resource_id=made["id"])
        for status in ("open", "acknowledged"):
            await responder.patch(f"/api/incidents/{made['id']}", {"status": status})
        other = (await responder.post("/api/incidents", {"title": "another", "severity": "P4"})).data

        seen += await everything.events(3)
        # In order per resource (the two incidents' events may interleave either way: other partitions).
        assert [m.json["type"] for m in seen if m.json["resource"]["id"] == made["id"]] == [
            "incident.created", "incident.transitioned", "incident.transitioned"]
        assert [m.json["type"] for m in seen if m.json["resource"]["id"] == other["id"]] == ["incident.created"]
        assert all(m.id == m.json["id"] and m.json["tenant_id"] == viewer.tenant_id for m in seen)
        assert seen[0].json["data"] == {**made, "version": 1}  # the REST answer's resource
        assert [m.json["data"]["status"] for m in await moves.events(2)] == ["open", "acknowledged"]
        assert [m.json["type"] for m in await one.events(2)] == ["incident.transitioned"] * 2
        # Nothing more happens: within the heartbeat interval a heartbeat comes.
        assert await everything.comment(timeout=5) == "heartbeat"
    finally:
        for stream in (everything, moves, one):
            await stream.close()

    # Resume after the second event: the third and fourth follow, in order.
    resumed = await open_stream(session, base, {**viewer.headers, "Last-Event-ID": seen[1].id})
    assert [m.id for m in await resumed.events(2)] == [seen[2].id, seen[3].id]
    await resumed.close()
    # The history keeps five events per tenant: after five more, the first id is gone and the client is told.
    for n in range(5):
        await responder.post("/api/incidents", {"title": f"more {n}", "severity": "P4"})
    watch = await open_stream(session, base, viewer.headers, types="incident.created", resource_type="incident")
    latest = (await responder.post("/api/incidents", {"title": "latest", "severity": "P4"})).data
    while (message := await watch.next()).json["resource"]["id"] != latest["id"]:
        assert message.json["type"] == "incident.created"
    await watch.close()
    stale = await open_stream(session, base, {**viewer.headers, "Last-Event-ID": seen[0].id})
    reset = await stale.next()
    assert reset.event == "reset" and reset.json["last_event_id"] == seen[0].id
    await stale.close()
    bad = await api.request(session, "GET", base + "/api/events/stream?types=incidnet.*", headers=viewer.headers)
    assert bad.status == 422 and bad.body["fields"][0]["field"] == "types"


def event(tenant_id: str, n: int, size: int) -> Published:
    envelope = {"id": f"e-{n}", "type": "incident.updated", "occurred_at": "2026-01-01T00:00:00.000000Z",
                "tenant_id": tenant_id, "actor": None, "resource": {"type": "incident", "id": f"i-{n}"},
                "data": {"id": f"i-{n}", "padding": "x" * size}, "details": {}}
    return Published(envelope, orjson.dumps(envelope), f"i-{n}", Scope.INCIDENTS_READ)


@pytest.mark.gateway_settings(event_stream_client_queue=8)
async def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving(outbound_env):
    session, base, control = outbound_env["session"], outbound_env["tenant"], outbound_env["control"]
    viewer = (await api.tenant(session, base, control))["viewer"]
    hub = outbound_env["gateway"].events
    fast = await open_stream(session, base, viewer.headers)
    # The slow client: a raw socket with a small receive buffer that never reads after the headers.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    port = int(base.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(slow, ("127.0.0.1", port))
    request = (f"GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {viewer.token}\r\n"
               f"x-tenant-id: {viewer.tenant_id}\r\n\r\n")
    await asyncio.get_running_loop().sock_sendall(slow, request.encode())
    async with asyncio.timeout(10):
        while len(hub.clients.get(viewer.tenant_id, ())) < 2:
            await asyncio.sleep(0.05)
    try:
        received = []
        for n in range(200):  # 200 events of 64 KiB: far more than the slow client's socket buffers hold
            hub.publish(event(viewer.tenant_id, n, 64 * 1024))
            received.append(await fast.next(timeout=10))
        assert [m.id for m in received] == [f"e-{n}" for n in range(200)]
        assert hub.counters.dropped_clients == 1
        assert len(hub.clients[viewer.tenant_id]) == 1  # only the fast client is still connected
    finally:
        slow.close()
        await fast.close()


async def test_an_api_key_streams_only_what_its_scopes_may_read(outbound_env):
    session, base, control = outbound_env["session"], outbound_env["tenant"], outbound_env["control"]
    admin = (await api.tenant(session, base, control))["admin"]
    incidents = (await admin.post("/api/api-keys", {"name": "board", "scopes": ["incidents:read"]})).data["token"]
    cmdb = (await admin.post("/api/api-keys", {"name": "cmdb", "scopes": ["cmdb:read"]})).data["token"]
    allowed = await open_stream(session, base, {"X-Api-Key": incidents})
    other = await open_stream(session, base, {"X-Api-Key": cmdb})
    try:
        made = (await admin.post("/api/incidents", {"title": "seen by one", "severity": "P2"})).data
        assert (await allowed.next()).json["resource"]["id"] == made["id"]
        # The incident event has been handed out; a CI event comes next, and it is the first the other key sees.
        ci = event(admin.tenant_id, 1, 10)
        ci.envelope.update(type="ci.updated", resource={"type": "ci", "id": "ci-1"})
        outbound_env["gateway"].events.publish(Published(ci.envelope, orjson.dumps(ci.envelope), "ci-1",
                                                         Scope.CMDB_READ))
        assert (await other.next()).json["type"] == "ci.updated"
    finally:
        await allowed.close()
        await other.close()
