"""Every answer of every route matches the response model its route declares and the schema the OpenAPI document
publishes for it. Answers are built from the proto by the compiled converters and never validated at run time;
this walk through each resource, against the whole stack of real processes (five services, the gateway, Kafka,
SQLite, chDB), validates real answers strictly: a missing, extra or mistyped field fails it, and so does a
route the walk did not reach."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jsonschema
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import TypeAdapter

from gateway import routes
from gateway.routing import Route
from tests.conftest import urls
from tests.support import api
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.clickhouse]


class Walk:
    """Calls the gateway and checks each answer against the declaration of the route it reached."""

    def __init__(self, session: aiohttp.ClientSession, bases: dict[str, str]) -> None:
        self.session = session
        self.bases = bases
        self.routes = {plane: routes.collect(plane) for plane in ("tenant", "control")}
        self.reached: set[tuple[str, str, str]] = set()
        self.answers: list[tuple[str, Route, Any]] = []

    def route(self, plane: str, method: str, path: str) -> Route:
        for r in self.routes[plane]:
            pattern = "^" + re.sub(r"{\w+}", "[^/]+", r.path) + "$"
            if r.method == method and re.match(pattern, path.split("?")[0]):
                return r
        raise AssertionError(f"no {plane} route for {method} {path}")

    async def call(self, plane: str, method: str, path: str, headers: dict[str, str] | None = None,
                   **kw: Any) -> api.Response:
        resp = await api.request(self.session, method, self.bases[plane] + path, headers=headers, **kw)
        route = self.route(plane, method, path)
        assert resp.status == route.status, (method, path, resp.status, resp.body)
        if route.response is not None:
            self.answers.append((plane, route, resp.body))
            if route.etag:
                assert resp.headers["ETag"] == f'"{resp.body["data"]["version"]}"', path
        self.reached.add((plane, route.method, route.path))
        return resp

    async def stream(self, path: str, headers: dict[str, str]) -> None:
        """A stream route: opened and its first bytes read (it does not end by itself)."""
        route = self.route("tenant", "GET", path)
        async with self.session.get(self.bases["tenant"] + path, headers=headers) as resp:
            assert resp.status == route.status and resp.headers["Content-Type"] == "text/event-stream"
            assert (await resp.content.readline()).startswith(b"retry:")
        self.reached.add(("tenant", route.method, route.path))

    def as_user(self, client: api.TenantClient) -> Callable[..., Awaitable[api.Response]]:
        async def call(method: str, path: str, **kw: Any) -> api.Response:
            return await self.call("tenant", method, path, headers={**client.headers, **kw.pop("headers", {})},
                                   **kw)

        return call


def validate(route: Route, data: Any) -> None:
    """Strict, from the JSON text, as a client would read it."""
    TypeAdapter(route.response).validate_json(orjson.dumps(data), strict=True)


def validate_documented(document: dict[str, Any], route: Route, body: Any) -> None:
    """The whole answer (envelope included) against the document's schema for this operation and status."""
    operation = document["paths"][route.path][route.method.lower()]
    schema = operation["responses"][str(route.status)]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"not within {timeout}s")


def at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat().replace("+00:00", "Z")


async def started_status(call: Callable[..., Awaitable[api.Response]], run_id: str, status: str) -> bool:
    return (await call("GET", f"/api/runbook-runs/{run_id}")).data["status"] == status


async def walk_everything(walk: Walk, session: aiohttp.ClientSession) -> None:
    tenant_id = f"walk-{uuid.uuid4().hex[:6]}"
    control = walk.bases["control"]
    op_login = await walk.call("control", "POST", "/api/auth/token",
                               json={"email": api.OPERATOR_EMAIL, "password": api.OPERATOR_PASSWORD})
    op = {"Authorization": f"Bearer {op_login.data['token']}"}
    await walk.call("control", "POST", "/api/tenants", headers=op, json={"name": "Walk", "id": tenant_id})
    await walk.call("control", "GET", "/api/tenants?limit=5", headers=op)
    await walk.call("control", "GET", f"/api/tenants/{tenant_id}", headers=op)
    await walk.call("control", "PATCH", f"/api/tenants/{tenant_id}", headers=op, json={"plan": "pro"})
    await walk.call("control", "POST", f"/api/tenants/{tenant_id}/suspend", headers=op)
    await walk.call("control", "POST", f"/api/tenants/{tenant_id}/activate", headers=op)
    made = await walk.call("control", "POST", f"/api/tenants/{tenant_id}/users", headers=op,
                           json={"email": f"admin@{tenant_id}.test", "password": api.PASSWORD, "role": "admin"})
    await walk.call("control", "GET", f"/api/tenants/{tenant_id}/users", headers=op)
    await walk.call("control", "PATCH", f"/api/tenants/{tenant_id}/users/{made.data['id']}", headers=op,
                    json={"disabled": False})
    await walk.call("control", "GET", f"/api/tenants/{tenant_id}/limits", headers=op)
    await walk.call("control", "PATCH", f"/api/tenants/{tenant_id}/limits", headers=op,
                    json={"rate_limits": {"ai": 50}, "quotas": {"users": 100}})
    service_key = await walk.call("control", "POST", f"/api/tenants/{tenant_id}/api-keys", headers=op,
                                  json={"name": "ingest", "scopes": ["telemetry:write"]})
    await walk.call("control", "GET", f"/api/tenants/{tenant_id}/api-keys", headers=op)
    await walk.call("control", "GET", f"/api/tenants/{tenant_id}/api-keys/{service_key.data['id']}", headers=op)
    await walk.call("control", "POST", f"/api/tenants/{tenant_id}/api-keys/{service_key.data['id']}/revoke",
                    headers=op)
    for plane in ("tenant", "control"):
        await walk.call(plane, "GET", "/healthz")
        await walk.call(plane, "GET", "/readyz")
        await walk.call(plane, "GET", "/api/openapi.json")
        await walk.call(plane, "GET", "/api/docs")
        await walk.call(plane, "GET", "/api/docs/init.js")

    signed = await walk.call("tenant", "POST", "/api/auth/token",
                             json={"email": f"admin@{tenant_id}.test", "password": api.PASSWORD,
                                   "tenant_id": tenant_id})
    await walk.call("tenant", "POST", "/api/auth/refresh", json={"refresh_token": signed.data["refresh_token"]})
    admin = api.TenantClient(session, walk.bases["tenant"], tenant_id, signed.data["token"], signed.data["user"]["email"],
                             "admin")
    call = walk.as_user(admin)
    await call("GET", "/api/auth/me")
    key = (await call("POST", "/api/api-keys", json={"name": "ci", "scopes": ["incidents:*"],
                                                     "allowed_cidrs": ["127.0.0.0/8"]})).data
    await call("GET", "/api/api-keys")
    await call("GET", f"/api/api-keys/{key['id']}")
    await call("POST", f"/api/api-keys/{key['id']}/revoke")

    # -- CMDB
    db = (await call("POST", "/api/cmdb/items", json={
        "name": "orders-db", "class": "database", "environment": "production", "criticality": "critical",
        "attributes": {"engine": "postgres", "replicas": 2}})).data
    svc = (await call("POST", "/api/cmdb/items", json={"name": "orders-api", "class": "service"})).data
    await call("GET", "/api/cmdb/items?limit=10")
    await call("POST", "/api/cmdb/items/search", json=[{"attribute": "class", "operator": "IS",
                                                        "values": [{"value": "database"}]}])
    await call("GET", f"/api/cmdb/items/{db['id']}")
    await call("PATCH", f"/api/cmdb/items/{db['id']}", json={"owner": "dba"}, headers={"If-Match": '"1"'})
    rel = (await call("POST", "/api/cmdb/relations", json={"source_id": svc["id"], "target_id": db["id"],
                                                           "type": "depends_on"})).data
    await call("GET", f"/api/cmdb/relations?ci_id={db['id']}")
    await call("GET", "/api/cmdb/relation-types")
    imported = (await call("POST", "/api/cmdb/import", json={
        "items": [{"name": "web", "class": "application", "ref": "w"}],
        "relations": [{"source_id": "w", "target_id": svc["id"], "type": "depends_on"}]})).data
    await call("GET", f"/api/cmdb/impact?ci_id={db['id']}")
    await call("DELETE", f"/api/cmdb/relations/{rel['id']}")
    await call("DELETE", f"/api/cmdb/items/{imported['item_ids'][0]}")

    # -- incidents
    inc = (await call("POST", "/api/incidents", json={"title": "DB down", "severity": "P1", "ci_ids": [db["id"]],
                                                     "labels": {"team": "db", "pager": True}})).data
    await call("GET", "/api/incidents?status=triggered")
    await call("POST", "/api/incidents/search", json={"filters": [{"attribute": "severity", "operator": "GTE",
                                                                   "values": [{"value": "P2"}]}], "limit": 1})
    await call("GET", f"/api/incidents/{inc['reference']}")
    await call("PATCH", f"/api/incidents/{inc['id']}", json={"status": "open", "note": "paged"})
    await call("PATCH", f"/api/incidents/{inc['id']}", json={"assignee": "sre"}, headers={"If-Match": '"2"'})
    await call("GET", f"/api/incidents/{inc['id']}/timeline")

    other = await api.add_user(session, control, tenant_id, "responder", op)
    approver = walk.as_user(await api.sign_in(other, walk.bases["tenant"]))

    # -- AI: analyses, feedback, settings, generation, the copilot
    rca = (await call("POST", "/api/rca", json={"incident_id": inc["id"]})).data
    await call("GET", f"/api/rca/{rca['id']}")
    await call("GET", f"/api/incidents/{inc['reference']}/rca")
    await call("POST", f"/api/rca/{rca['id']}/feedback", json={"verdict": "incorrect", "actual_cause": "disk"})
    await call("GET", "/api/ai/feedback/summary")
    await call("GET", "/api/ai/settings")
    await call("PUT", "/api/ai/settings", json={"auto_rca_severities": ["P1"], "runbook_blast_radius_approval": 10})
    await call("POST", "/api/ai/control/generate-runbook", json={"incident_id": inc["id"]})
    await call("POST", "/api/copilot/query", json={"query": f"what caused {inc['reference']}?"})
    await call("GET", "/api/copilot/query?query=open+incidents&persona=manager")

    # -- runbooks and runs
    steps = [{"name": "look", "kind": "manual"}, {"name": "approve", "kind": "approval"},
             {"name": "note", "kind": "vigil", "config": {"action": "incident.note", "message": "{{ params.text }}"}}]
    rb = (await call("POST", "/api/runbooks", json={"name": "note it", "parameters": [{"name": "text",
                                                                                      "default": "done"}],
                                                    "steps": steps, "status": "published"})).data
    await call("GET", "/api/runbooks?status=published&q=note")
    await call("GET", f"/api/runbooks/{rb['id']}?version=1")
    await call("PATCH", f"/api/runbooks/{rb['id']}", json={"description": "adds a note"}, headers={"If-Match": '"1"'})
    await call("POST", f"/api/runbooks/{rb['id']}/execute", json={"incident_id": inc["id"], "dry_run": True})

    async def started(body: dict) -> dict:
        run = (await call("POST", f"/api/runbooks/{rb['id']}/execute", json=body)).data

        async def blocked() -> Any:
            got = (await call("GET", f"/api/runbook-runs/{run['id']}")).data
            return got if got["status"] in ("BLOCKED", "FLAGGED") else None
        return await eventually(blocked)

    run = await started({"incident_id": inc["id"]})
    await call("POST", f"/api/runbook-runs/{run['id']}/confirm", json={})
    await eventually(lambda: started_status(call, run["id"], "BLOCKED"))
    await approver("POST", f"/api/runbook-runs/{run['id']}/approve", json={"comment": "ok"})
    await call("GET", f"/api/runbook-runs?runbook_id={rb['id']}")
    await call("GET", f"/api/incidents/{inc['id']}/runbook-runs")
    rejected = await started({"incident_id": inc["id"]})
    await call("POST", f"/api/runbook-runs/{rejected['id']}/confirm", json={})
    await eventually(lambda: started_status(call, rejected["id"], "BLOCKED"))
    await approver("POST", f"/api/runbook-runs/{rejected['id']}/reject", json={"comment": "no"})
    await call("POST", f"/api/runbook-runs/{(await started({'incident_id': inc['id']}))['id']}/cancel")
    broken = (await call("POST", "/api/runbooks", json={"name": "bad move", "status": "published", "steps": [
        {"name": "move", "kind": "vigil", "config": {"action": "incident.transition", "to_status": "closed"}}]})).data
    flagged = (await call("POST", f"/api/runbooks/{broken['id']}/execute", json={"incident_id": inc["id"]})).data
    await eventually(lambda: started_status(call, flagged["id"], "FLAGGED"))
    await call("POST", f"/api/runbook-runs/{flagged['id']}/retry", json={})
    draft = (await call("POST", "/api/runbooks", json={"name": "scratch", "steps": [{"name": "x", "kind": "manual"}]})).data
    await call("DELETE", f"/api/runbooks/{draft['id']}")
    # -- webhooks, the live stream, MCP
    receiver = await Receiver().start()
    try:
        hook = (await call("POST", "/api/webhooks", json={"url": receiver.url + "/walk",
                                                          "event_types": ["incident.*", "change.approved"],
                                                          "filter": {"severity": ["P1"]}})).data
        await call("GET", "/api/webhooks")
        await call("GET", f"/api/webhooks/{hook['id']}")
        await call("PATCH", f"/api/webhooks/{hook['id']}", json={"description": "walk"}, headers={"If-Match": '"1"'})
        await call("POST", f"/api/webhooks/{hook['id']}/rotate-secret", json={"overlap_seconds": 60})
        ping = (await call("POST", f"/api/webhooks/{hook['id']}/ping")).data
        await call("GET", f"/api/webhooks/{hook['id']}/deliveries?status=succeeded")
        await call("GET", f"/api/webhooks/{hook['id']}/deliveries/{ping['id']}")
        await call("POST", f"/api/webhooks/{hook['id']}/deliveries/{ping['id']}/replay")
        await call("DELETE", f"/api/webhooks/{hook['id']}")
    finally:
        await receiver.stop()
    await walk.stream("/api/events/stream?types=incident.*", admin.headers)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "walk", "version": "1"}}}
    await call("POST", "/api/mcp", json=initialize, headers={"Accept": "application/json, text/event-stream"})

    # -- ITSM
    change = (await call("POST", "/api/itsm/changes", json={
        "title": "Upgrade orders-db", "requested_start": at(7), "requested_end": at(7.1), "ci_ids": [db["id"]]})).data
    await call("POST", "/api/itsm/changes", json={
        "title": "Tune orders-db", "requested_start": at(7), "requested_end": at(7.2), "ci_ids": [db["id"]]})
    await call("GET", "/api/itsm/changes?conflicting=true")
    paged = (await call("GET", "/api/itsm/changes?limit=1")).data
    await call("GET", f"/api/itsm/changes?limit=1&cursor={paged['next_cursor']}")
    await call("POST", "/api/itsm/changes/search", json=[{"attribute": "ci_id", "operator": "IS",
                                                          "values": [{"value": db["id"]}]}])
    await call("GET", f"/api/itsm/changes/{change['reference']}")
    await call("GET", f"/api/cmdb/items/{db['id']}/changes")
    await call("POST", f"/api/itsm/changes/{change['id']}/conflict-check")
    for status in ("assess", "authorize"):
        await call("PATCH", f"/api/itsm/changes/{change['id']}", json={"status": status})
    await approver("POST", f"/api/itsm/changes/{change['id']}/approvals", json={"decision": "approve"})
    item = (await call("POST", "/api/itsm/catalog", json={"name": "Laptop", "category": "hardware"})).data
    await call("GET", "/api/itsm/catalog")
    await call("GET", f"/api/itsm/catalog/{item['id']}")
    await call("PATCH", f"/api/itsm/catalog/{item['id']}", json={"description": "a laptop"})
    req = (await call("POST", "/api/itsm/requests", json={"catalog_item_id": item["id"],
                                                         "details": {"model": "x1"}})).data
    await call("GET", "/api/itsm/requests")
    await call("POST", "/api/itsm/requests/search", json=[])
    await call("GET", f"/api/itsm/requests/{req['reference']}")
    await approver("POST", f"/api/itsm/requests/{req['id']}/approvals", json={"decision": "approve"})
    await call("PATCH", f"/api/itsm/requests/{req['id']}", json={"status": "fulfilled", "note": "shipped"})
    await call("DELETE", f"/api/itsm/catalog/{item['id']}")
    blackout = (await call("POST", "/api/itsm/blackouts", json={"name": "freeze", "start": at(30),
                                                               "end": at(31)})).data
    await call("GET", "/api/itsm/blackouts")
    await call("GET", f"/api/itsm/blackouts/{blackout['id']}")
    await call("PATCH", f"/api/itsm/blackouts/{blackout['id']}", json={"reason": "holidays"})
    await call("DELETE", f"/api/itsm/blackouts/{blackout['id']}")

    # -- telemetry: JSON batches and OTLP in, the query API out
    now = time.time_ns()
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    await call("POST", "/api/logs", json={"logs": [{"service": "checkout", "body": "payment declined",
                                                    "level": "error", "trace_id": trace_id}]})
    await call("POST", "/api/metrics", json={"metrics": [{"name": "queue_depth", "service": "checkout",
                                                          "value": 3, "attributes": {"queue": "orders"}}]})
    await call("POST", "/api/traces", json={"spans": [{
        "trace_id": trace_id, "span_id": span_id, "name": "POST /checkout", "service": "checkout",
        "start_time": now - 50_000_000, "end_time": now, "status": "error",
        "events": [{"name": "retry", "timestamp": now - 10_000_000}]}]})
    otlp = ExportTraceServiceRequest()
    span = otlp.resource_spans.add().scope_spans.add().spans.add(
        trace_id=bytes.fromhex(uuid.uuid4().hex), span_id=bytes.fromhex(span_id), name="GET /cart",
        start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now)
    assert span.name == "GET /cart"
    await call("POST", "/v1/traces", data=otlp.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    for path in ("/v1/logs", "/v1/metrics"):
        await call("POST", path, data=b"{}", headers={"Content-Type": "application/json"})

    async def found(path: str) -> Any:
        return (await call("GET", path)).data["items"]

    await eventually(lambda: found("/api/logs?service=checkout"))
    await eventually(lambda: found("/api/traces?service=checkout"))
    await call("GET", f"/api/traces/{trace_id}")

    async def series() -> Any:
        return (await call("GET", "/api/metrics/query?metric_name=queue_depth&by=queue")).data["series"]

    await eventually(series)
    await call("GET", "/api/observability/anomalies?service=checkout")

    # -- alert intake: integrations, the doors, the decisions, maintenance windows
    keys = {}
    for kind in ("alertmanager", "grafana", "generic", "pagerduty"):
        made = (await call("POST", "/api/integrations", json={"name": kind, "type": kind,
                                                             "settings": {"reopen_window_seconds": 60}})).data
        keys[kind] = made["key"]
    integration = made["integration"]
    await call("GET", "/api/integrations?type=pagerduty")
    await call("GET", f"/api/integrations/{integration['id']}")
    await call("PATCH", f"/api/integrations/{integration['id']}", json={"settings": {"auto_resolve": "never"}},
               headers={"If-Match": f'"{integration["version"]}"'})
    keys["pagerduty"] = (await call("POST", f"/api/integrations/{integration['id']}/rotate-key")).data["key"]
    fired = {"status": "firing", "labels": {"alertname": "Down", "service": "orders-api"}, "annotations": {},
             "startsAt": at(0), "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "walk-1"}
    am = {"version": "4", "groupKey": "{}", "alerts": [fired]}
    grafana = {"version": "1", "alerts": [{**fired, "fingerprint": "walk-2", "values": {"B": 1}}]}
    generic = {"alerts": [{"title": "Queue stuck", "fingerprint": "walk-3"}]}
    accepted = []
    for kind, payload in (("alertmanager", am), ("grafana", grafana), ("generic", generic)):
        accepted += (await walk.call("tenant", "POST", f"/api/alerts/{kind}", json=payload,
                                     headers={"Authorization": f"Bearer {keys[kind]}"})).data["alert_ids"]
        accepted += (await walk.call("tenant", "POST", f"/api/alerts/{kind}/{keys[kind]}", json=payload)
                     ).data["alert_ids"]
    pd = await walk.call("tenant", "POST", "/v2/enqueue", json={
        "routing_key": keys["pagerduty"], "event_action": "trigger", "dedup_key": "walk-4",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "error"}})
    assert pd.body == {"status": "success", "message": "Event processed", "dedup_key": "walk-4"}
    async def decided(alert_id: str) -> Any:  # 404 until the incident service has decided on it
        resp = await api.request(session, "GET", f"{walk.bases['tenant']}/api/alerts/{alert_id}", headers=admin.headers)
        return resp.body["data"] if resp.status == 200 else None

    for alert_id in accepted:
        await eventually(lambda alert_id=alert_id: decided(alert_id))
    alert = (await call("GET", f"/api/alerts/{accepted[0]}")).data
    await call("GET", "/api/alerts?decision=created,duplicate&order=asc")
    await call("GET", f"/api/incidents/{alert['incident_id']}/alerts")
    window = (await call("POST", "/api/maintenance-windows", json={
        "name": "db upgrade", "matchers": [{"name": "service", "operator": "=~", "value": "orders-.*"}],
        "ends_at": at(1)})).data
    await call("GET", f"/api/maintenance-windows?active_at={at(0.5)}")
    await call("GET", f"/api/maintenance-windows/{window['id']}")
    await call("PATCH", f"/api/maintenance-windows/{window['id']}", json={"comment": "CHG-1"},
               headers={"If-Match": '"1"'})
    await call("DELETE", f"/api/maintenance-windows/{window['id']}")
    await call("DELETE", f"/api/integrations/{integration['id']}")

    # -- the audit log of what the walk did, on both planes
    await call("GET", "/api/audit?limit=5")
    await walk.call("control", "GET", f"/api/audit?tenant_id={tenant_id}&limit=5", headers=op)
    await walk.call("control", "GET", f"/api/tenants/{tenant_id}/usage", headers=op)


async def test_every_answer_matches_its_declared_schema(stack_factory):
    stack = stack_factory({"VIGIL_TELEMETRY_BATCH_SECONDS": "0.2", "VIGIL_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'})
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        walk = Walk(session, {"tenant": tenant_base, "control": control_base})
        await walk_everything(walk, session)
        documents = {plane: (await api.request(session, "GET", base + "/api/openapi.json")).body
                     for plane, base in walk.bases.items()}
    failures = []
    for plane, route, body in walk.answers:
        try:
            validate(route, body["data"])
            validate_documented(documents[plane], route, body)
        except Exception as exc:  # noqa: BLE001 - collect every mismatch, then fail once
            failures.append(f"{route.method} {route.path}: {exc}")
    assert not failures, "\n".join(failures)
    declared = {(plane, r.method, r.path) for plane, rs in walk.routes.items() for r in rs}
    assert declared - walk.reached == set(), "routes the walk did not reach"
