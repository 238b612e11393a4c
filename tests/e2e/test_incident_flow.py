"""End to end through real processes: the five services and the gateway as OS processes, the real Kafka
broker, SQLite files. Operator signs in on the control plane, a tenant and its users are made, an incident
walks the seed's state machine over HTTP, and the matching CloudEvents are read back from the Kafka topic."""

import asyncio
import uuid

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import urls
from tests.support import api
from vigil.incident.v1 import incident_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

WALK = ["open", "acknowledged", "investigating", "resolved", "reopened", "investigating", "resolved", "closed"]


async def incident_events(bootstrap: str, incident_id: str, expected: int, timeout: float = 30.0) -> list[CloudEvent]:
    consumer = AIOKafkaConsumer(topics.INCIDENT_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"e2e-{uuid.uuid4().hex}")
    await consumer.start()
    found: list[CloudEvent] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    for m in msgs:
                        if m.key == incident_id.encode():
                            found.append(CloudEvent.from_kafka(m.headers, m.value))
    finally:
        await consumer.stop()
    return found


async def test_incident_lifecycle_end_to_end(stack_factory, kafka_bootstrap):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        ready = await api.request(session, "GET", tenant_url + "/readyz")
        assert ready.status == 200, ready.body
        users = await api.tenant(session, tenant_url, control_url, f"e2e-{uuid.uuid4().hex[:6]}")
        responder = users["responder"]
        created = await responder.post("/api/incidents", {
            "title": "Database connection pool exhausted", "severity": "P1", "description": "pool at 100%",
            "source": "prometheus", "ci_ids": ["ci-001"]})
        assert created.status == 201, created.body
        create_trace = created.headers["X-Trace-Id"]
        inc = created.data
        assert (inc["reference"], inc["status"]) == ("INC-00000001", "triggered")

        illegal = await responder.patch(f"/api/incidents/{inc['id']}", {"status": "closed"})
        assert illegal.status == 400 and illegal.body["code"] == "INVALID_TRANSITION"

        for target in WALK:
            body = {"status": target}
            if target == "resolved":
                body |= {"resolution_notes": "Scaled connection pool to 200", "resolved_by": "ops@example.com"}
            moved = await responder.patch(f"/api/incidents/{inc['reference']}", body)
            assert moved.status == 200, (target, moved.body)
            assert moved.data["status"] == target
        final = (await users["viewer"].get(f"/api/incidents/{inc['reference']}")).data
        assert final["status"] == "closed" and final["resolution_notes"] == "Scaled connection pool to 200"
        assert set(final["status_times"]) == {"triggered", *WALK}
        again = await responder.patch(f"/api/incidents/{inc['id']}", {"status": "open"})
        assert again.status == 400 and again.body["code"] == "INVALID_TRANSITION"

        timeline = (await responder.get(f"/api/incidents/{inc['id']}/timeline")).data["items"]
        moves = [(e["from_status"], e["to_status"], e["actor"]) for e in timeline if e["kind"] == "transitioned"]
        assert moves == [(a, b, responder.email) for a, b in zip(["triggered", *WALK], WALK, strict=False)]

    # incident.created, one incident.transitioned per move, and one incident.updated where the first resolve
    # also set the notes (the second resolve sends the same values: no change, no event).
    expected_types = ["incident.created", *["incident.transitioned"] * 3, "incident.updated",
                      *["incident.transitioned"] * 5]
    events = await incident_events(kafka_bootstrap, inc["id"], len(expected_types))
    assert [e.type for e in events] == expected_types
    assert all(e.tenant_id == responder.tenant_id and e.source == "vigil/incident" for e in events)
    assert len({e.id for e in events}) == len(events)
    moves = [incident_pb2.IncidentEvent.FromString(e.data) for e in events if e.type == "incident.transitioned"]
    assert [m.to_status for m in moves] == WALK
    assert moves[-1].incident.reference == "INC-00000001" and moves[-1].incident.status == "closed"
    # One trace from the HTTP request through gRPC into the Kafka event (W3C traceparent 00-<trace>-<span>-01).
    assert all(len(e.traceparent) == 55 for e in events)
    assert events[0].traceparent.split("-")[1] == create_trace


async def test_another_tenants_incident_is_not_found_whatever_is_guessed(stack_factory):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        a = await api.tenant(session, tenant_url, control_url, "tenant-a")
        b = await api.tenant(session, tenant_url, control_url, "tenant-b")
        secret = (await a["responder"].post("/api/incidents", {"title": "A's secret outage", "severity": "P1"})).data
        mine = (await b["responder"].post("/api/incidents", {"title": "B's own", "severity": "P3"})).data
        assert mine["reference"] == "INC-00000001"  # references are per tenant

        for key in (secret["id"], secret["reference"]):
            for method, body in (("GET", None), ("PATCH", {"title": "pwned"})):
                resp = await b["admin"].call(method, f"/api/incidents/{key}", json=body)
                if key == secret["reference"] and method == "GET":
                    # B has its own INC-00000001: it must get its own, never A's.
                    assert resp.data["id"] == mine["id"]
                    continue
                if key == secret["reference"]:
                    assert resp.data["id"] == mine["id"]  # B's PATCH hit B's own incident
                    continue
                assert resp.status == 404 and resp.body["code"] == "NOT_FOUND", resp.body
            timeline = await b["admin"].get(f"/api/incidents/{secret['id']}/timeline")
            assert timeline.status == 404 or secret["id"] not in str(timeline.body)
        listed = (await b["viewer"].get("/api/incidents?q=secret")).data
        assert listed["total"] == 0
        everything = (await b["viewer"].get("/api/incidents?limit=200")).data
        assert secret["id"] not in {i["id"] for i in everything["items"]}
        # B's token with A's tenant header is refused outright.
        spoof = await b["admin"].get("/api/incidents", headers={"x-tenant-id": "tenant-a"})
        assert spoof.status == 401
        assert (await a["viewer"].get(f"/api/incidents/{secret['id']}")).data["title"] == "A's secret outage"
