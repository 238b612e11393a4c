"""Webhooks against a real HTTP receiver: an in-process gateway and incident service (real gRPC, real Kafka,
SQLite), deliveries driven by the incident events on Kafka, a receiver that fails, hangs past the timeout, asks
to slow down and recovers. The retry schedule runs on a clock 100 times faster than real time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from gateway.webhooks.delivery import JITTER, LADDER
from tests.support import api
from tests.support.receiver import Received, Receiver

pytestmark = pytest.mark.kafka


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def eventually(check, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.1)


async def subscribe(admin: api.TenantClient, url: str, **extra: Any) -> dict[str, Any]:
    made = await admin.post("/api/webhooks", {"url": url, "event_types": ["incident.*"], **extra})
    assert made.status == 201, made.body
    return made.data


async def deliveries(admin: api.TenantClient, webhook_id: str, **query: str) -> list[dict[str, Any]]:
    return (await admin.get(f"/api/webhooks/{webhook_id}/deliveries", params=query)).data["items"]


async def test_signed_ordered_retried_on_the_ladder_and_replayed(outbound_env):
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    first_id: list[str] = []
    other_arrived = asyncio.Event()

    async def answer(got: Received) -> web.StreamResponse | int:
        event = got.event
        if event["data"]["title"] != "first":
            if event["data"]["title"] == "second":
                other_arrived.set()
            return 200
        if not first_id:
            first_id.append(got.delivery_id)
        tries = sum(1 for r in receiver.received if r.delivery_id == first_id[0])
        if got.delivery_id != first_id[0] or tries > 3:
            return 200
        if tries == 1:
            return 500
        if tries == 2:
            await asyncio.sleep(2)  # past the 0.5 s timeout
            return 200
        # Slow down: 30 s on the compressed clock; and keep failing until the other incident's delivery
        # arrived, which shows that this resource's failures held back nothing else.
        await asyncio.wait_for(other_arrived.wait(), 30)
        return web.Response(status=429, headers={"Retry-After": "30"})

    receiver = await Receiver(answer).start()
    try:
        hook = await subscribe(admin, receiver.url + "/hooks/vigil")
        assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
        assert "secret" not in (await admin.get(f"/api/webhooks/{hook['id']}")).data

        first = (await admin.post("/api/incidents", {"title": "first", "severity": "P1"})).data
        for status in ("open", "acknowledged"):
            assert (await admin.patch(f"/api/incidents/{first['id']}", {"status": status})).status == 200
        second = (await admin.post("/api/incidents", {"title": "second", "severity": "P3"})).data

        def first_done(r: Receiver) -> bool:
            return len([x for x in r.successes() if x.event["resource"]["id"] == first["id"]]) == 3

        await receiver.wait_for(first_done, timeout=60)
    finally:
        await receiver.stop()

    # Every request is signed with the subscription's secret over its raw body, and names itself.
    assert all(r.signed_by(hook["secret"]) for r in receiver.received)
    assert all(r.headers["Vigil-Event"] == r.event["type"] for r in receiver.received)
    # In order per resource: created, then the two transitions; the failing head held back only its own resource.
    done = [r.event for r in receiver.successes() if r.event["resource"]["id"] == first["id"]]
    assert [(e["type"], e["data"]["status"]) for e in done] == [
        ("incident.created", "triggered"), ("incident.transitioned", "open"),
        ("incident.transitioned", "acknowledged")]
    assert done[1]["details"] == {"from_status": "triggered", "to_status": "open", "changed_fields": ["status"]}
    assert done[0]["data"]["reference"] == first["reference"]
    assert done[0]["tenant_id"] == admin.tenant_id
    assert other_arrived.is_set()
    # The first delivery's id is stable across its four attempts.
    tries = [r for r in receiver.received if r.event["id"] == done[0]["id"]]
    assert {r.delivery_id for r in tries} == {first_id[0]}
    assert [r.headers["Vigil-Attempt"] for r in tries] == ["1", "2", "3", "4"]

    listed = await deliveries(admin, hook["id"])
    by_id = {d["id"]: d for d in listed}
    head = by_id[first_id[0]]
    assert (head["status"], head["attempts"], head["last_status_code"]) == ("succeeded", 4, 200)
    detail = (await admin.get(f"/api/webhooks/{hook['id']}/deliveries/{first_id[0]}")).data
    history = detail["history"]
    assert [(a["status_code"], a["outcome"]) for a in history] == [
        (500, "retry"), (None, "retry"), (429, "retry"), (200, "succeeded")]
    assert "timed out" in history[1]["error"]
    assert detail["payload"]["id"] == done[0]["id"]
    # The schedule (on the compressed clock): never before the ladder's step less its jitter, and never before
    # Retry-After.
    times = [at(a["at"]) for a in history]
    for n in (1, 2):
        assert times[n] - times[n - 1] >= timedelta(seconds=LADDER[n - 1] * (1 - JITTER))
    assert times[3] - times[2] >= timedelta(seconds=30)
    assert {d["resource"]["id"] for d in listed} == {first["id"], second["id"]}
    assert all(d["status"] == "succeeded" for d in listed)

    # Replay: the same event (same id, same body) as a new delivery.
    replayed = await admin.post(f"/api/webhooks/{hook['id']}/deliveries/{first_id[0]}/replay")
    assert replayed.status == 202, replayed.body
    assert replayed.data["replay_of"] == first_id[0] and replayed.data["event_id"] == done[0]["id"]
    receiver2 = await Receiver().start()
    try:
        await admin.patch(f"/api/webhooks/{hook['id']}", {"url": receiver2.url + "/again"})
        replay2 = await admin.post(f"/api/webhooks/{hook['id']}/deliveries/{first_id[0]}/replay")
        await receiver2.wait_for(lambda r: any(x.delivery_id == replay2.data["id"] for x in r.successes()))
    finally:
        await receiver2.stop()
    again = next(x for x in receiver2.received if x.delivery_id == replay2.data["id"])
    assert again.event == done[0] and again.signed_by(hook["secret"])
