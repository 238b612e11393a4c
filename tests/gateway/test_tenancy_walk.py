"""Tenancy through every `{id}` route, taken from the route table (a new route is walked as soon as it is declared,
or this test fails naming what it needs): on a whole stack of real processes, tenant A makes one object of each
kind; tenant B's admin then calls every route that takes an id with A's ids and must get 404 every time — no
cross-tenant read — and A's objects read the same afterwards — no cross-tenant write."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from gateway import routes
from tests.conftest import urls
from tests.support import api
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.clickhouse]

# What B sends to the routes that take a body: valid bodies, so that only tenancy can refuse them.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/cmdb/items/{id}"): {"owner": "intruder"},
    ("PATCH", "/api/incidents/{id}"): {"severity": "P4"},
    ("PATCH", "/api/itsm/changes/{id}"): {"title": "intruder"},
    ("POST", "/api/itsm/changes/{id}/approvals"): {"decision": "approve"},
    ("PATCH", "/api/itsm/catalog/{id}"): {"description": "intruder"},
    ("PATCH", "/api/itsm/requests/{id}"): {"status": "cancelled"},
    ("POST", "/api/itsm/requests/{id}/approvals"): {"decision": "approve"},
    ("PATCH", "/api/itsm/blackouts/{id}"): {"reason": "intruder"},
    ("PATCH", "/api/integrations/{id}"): {"name": "intruder"},
    ("PATCH", "/api/maintenance-windows/{id}"): {"comment": "intruder"},
    ("POST", "/api/rca/{id}/feedback"): {"verdict": "incorrect"},
    ("PATCH", "/api/runbooks/{id}"): {"description": "intruder"},
    ("POST", "/api/runbooks/{id}/execute"): {"dry_run": True},
    ("POST", "/api/runbook-runs/{id}/approve"): {},
    ("POST", "/api/runbook-runs/{id}/reject"): {},
    ("POST", "/api/runbook-runs/{id}/confirm"): {},
    ("POST", "/api/runbook-runs/{id}/retry"): {},
    ("PATCH", "/api/webhooks/{id}"): {"description": "intruder"},
    ("POST", "/api/webhooks/{id}/rotate-secret"): {"overlap_seconds": 0},
}


def at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def objects_of(a: api.TenantClient, receiver_url: str) -> dict[str, str]:
    """One object of each kind in tenant A, by the collection path its `{id}` routes hang under."""
    ci = (await a.post("/api/cmdb/items", {"name": "orders-db", "class": "database"})).data
    other = (await a.post("/api/cmdb/items", {"name": "orders-api", "class": "service"})).data
    relation = (await a.post("/api/cmdb/relations", {"source_id": other["id"], "target_id": ci["id"],
                                                     "type": "depends_on"})).data
    incident = (await a.post("/api/incidents", {"title": "DB down", "severity": "P1"})).data
    change = (await a.post("/api/itsm/changes", {"title": "Upgrade", "requested_start": at(7),
                                                 "requested_end": at(7.1), "ci_ids": [ci["id"]]})).data
    item = (await a.post("/api/itsm/catalog", {"name": "Laptop", "category": "hardware"})).data
    request = (await a.post("/api/itsm/requests", {"catalog_item_id": item["id"]})).data
    blackout = (await a.post("/api/itsm/blackouts", {"name": "freeze", "start": at(30), "end": at(31)})).data
    key = (await a.post("/api/api-keys", {"name": "a's key", "scopes": ["incidents:read"]})).data
    # A webhook for events that this walk does not cause, so that its deliveries are only the ping's.
    hook = (await a.post("/api/webhooks", {"url": receiver_url, "event_types": ["request.fulfilled"]})).data
    ping = (await a.post(f"/api/webhooks/{hook['id']}/ping")).data
    trace_id, now = uuid.uuid4().hex, time.time_ns()
    await a.post("/api/traces", {"spans": [{"trace_id": trace_id, "span_id": uuid.uuid4().hex[:16], "name": "GET /",
                                            "service": "web", "start_time": now - 1_000_000, "end_time": now}]})
    integration = (await a.post("/api/integrations", {"name": "generic", "type": "generic"})).data
    accepted = await a.call("POST", "/api/alerts/generic", json={"alerts": [{"title": "Queue stuck"}]},
                            headers={"Authorization": f"Bearer {integration['key']}"})
    [alert_id] = accepted.data["alert_ids"]
    window = (await a.post("/api/maintenance-windows", {
        "name": "db upgrade", "matchers": [{"name": "service", "operator": "=", "value": "orders"}],
        "ends_at": at(1)})).data
    deadline = time.monotonic() + 40
    for readable in (f"/api/traces/{trace_id}", f"/api/alerts/{alert_id}"):  # A can read them: B must not
        while (await a.get(readable)).status != 200:
            assert time.monotonic() < deadline, f"{readable} never became readable"
            await asyncio.sleep(0.3)
    rca = (await a.post("/api/rca", {"incident_id": incident["id"]})).data
    runbook = (await a.post("/api/runbooks", {"name": "look", "status": "published",
                                              "steps": [{"name": "look at it", "kind": "manual"}]})).data
    run = (await a.post(f"/api/runbooks/{runbook['id']}/execute", {})).data
    while (await a.get(f"/api/runbook-runs/{run['id']}")).data["status"] != "BLOCKED":  # settled: reads stay equal
        assert time.monotonic() < deadline, "the run never waited for its manual step"
        await asyncio.sleep(0.3)
    # The analysis reaches the incident's timeline through its event: settled once it is there.
    timeline = f"/api/incidents/{incident['id']}/timeline"
    while not any(e["kind"] == "rca" for e in (await a.get(timeline)).data["items"]):
        assert time.monotonic() < deadline, "the analysis never reached the incident's timeline"
        await asyncio.sleep(0.3)
    return {"/api/cmdb/items": ci["id"], "/api/cmdb/relations": relation["id"], "/api/incidents": incident["id"],
            "/api/rca": rca["id"], "/api/runbooks": runbook["id"], "/api/runbook-runs": run["id"],
            "/api/itsm/changes": change["id"], "/api/itsm/catalog": item["id"], "/api/itsm/requests": request["id"],
            "/api/itsm/blackouts": blackout["id"], "/api/api-keys": key["id"], "/api/traces": trace_id,
            "/api/integrations": integration["integration"]["id"], "/api/alerts": alert_id,
            "/api/maintenance-windows": window["id"],
            "/api/webhooks": hook["id"], "{delivery_id}": ping["id"]}


def concrete(path: str, ids: dict[str, str]) -> str:
    collection = path.split("/{", 1)[0]
    assert collection in ids, f"{path}: make an object of tenant A under {collection} in objects_of()"
    return re.sub(r"{\w+}", ids[collection], path.replace("{delivery_id}", ids["{delivery_id}"]), count=1)


async def test_no_route_reads_or_writes_another_tenants_objects(stack_factory):
    stack = stack_factory({"VIGIL_TELEMETRY_BATCH_SECONDS": "0.2", "VIGIL_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'})
    tenant_base, control_base = urls(stack)
    receiver = await Receiver().start()
    async with aiohttp.ClientSession() as session:
        a = (await api.tenant(session, tenant_base, control_base, "tenant-a", roles=("admin",)))["admin"]
        b = (await api.tenant(session, tenant_base, control_base, "tenant-b", roles=("admin",)))["admin"]
        ids = await objects_of(a, receiver.url)
        with_ids = [r for r in routes.collect("tenant") if r.path_names and r.auth == "tenant"]
        reads = [r for r in with_ids if r.method == "GET"]
        before = {r.path: (await a.get(concrete(r.path, ids))).body for r in reads}
        assert all(body and "data" in body for body in before.values()), before

        answers = {}
        for r in with_ids:
            if r.body is not None:
                assert (r.method, r.path) in BODIES, f"{r.method} {r.path}: add a valid body to BODIES"
            headers = {"If-Match": '"1"'} if r.if_match else {}
            resp = await b.call(r.method, concrete(r.path, ids), json=BODIES.get((r.method, r.path)), headers=headers)
            answers[f"{r.method} {r.path}"] = (resp.status, resp.body)
        leaks = {route: answer for route, answer in answers.items() if answer[0] != 404}
        assert not leaks, leaks

        after = {r.path: (await a.get(concrete(r.path, ids))).body for r in reads}
        for path in before:
            assert after[path]["data"] == before[path]["data"], path
    await receiver.stop()
