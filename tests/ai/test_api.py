"""The AI routes over HTTP on the whole stack: the copilot as Server-Sent Events (tool calls as they run, then the
answer) and as JSON for viewers over GET, the error envelope for bad input, roles, stale versions, another
tenant's objects and a refused run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.ai.test_llm import seed
from tests.support import api

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.clickhouse]


def events(raw: str) -> list[tuple[str, dict]]:
    out = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def assert_error(resp: api.Response, status: int, code: str, field: str | None = None) -> None:
    assert resp.status == status, resp.body
    assert resp.body["code"] == code and resp.body["trace_id"], resp.body
    if field:
        assert field in {f["field"] for f in resp.body.get("fields") or []}, resp.body


async def test_copilot_streams_events_and_answers_viewers(ai_stack, users, llm_server):
    llm_server.handler = lambda path, body: (500, {"error": {"message": "down"}}, 0)  # the interpreter answers
    world = await seed(users)
    reference = world["incident"]["reference"]
    analysis = (await users["responder"].post("/api/rca", {"incident_id": reference})).data
    responder = users["responder"]
    async with responder.session.post(responder.base + "/api/copilot/query", json={
            "query": f"what caused {reference}?"}, headers={**responder.headers, "Accept": "text/event-stream"}) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        streamed = events(await resp.text())
    assert [kind for kind, _ in streamed] == ["tool_call", "answer"]
    assert streamed[0][1]["name"] == "get_rca" and streamed[0][1]["ok"] is True
    answer = streamed[1][1]
    assert answer["mode"] == "deterministic" and "status 500" in answer["llm_error"]
    assert analysis["id"] in {c["id"] for c in answer["citations"]} and "db" in answer["answer"]

    viewer = users["viewer"]
    got = await viewer.get("/api/copilot/query", params={"query": "open incidents", "persona": "executive"})
    assert got.data["mode"] == "deterministic" and got.data["understood"] is True
    assert_error(await viewer.post("/api/copilot/query", {"query": "open incidents"}), 403, "FORBIDDEN")
    unknown = (await viewer.get("/api/copilot/query", params={"query": "sing me a song"})).data
    assert unknown["understood"] is False and "I can answer" in unknown["answer"]
    assert_error(await viewer.get("/api/copilot/query", params={"query": "x", "persona": "ceo"}), 422,
                 "VALIDATION_ERROR", "persona")


async def test_errors_roles_versions_and_tenancy(ai_stack, users, llm_server):
    llm_server.handler = lambda path, body: (500, {"error": {"message": "down"}}, 0)
    responder, admin = users["responder"], users["admin"]
    ci = (await admin.post("/api/cmdb/items", {"name": "api", "class": "service"})).data
    incident = (await responder.post("/api/incidents", {"title": "x", "severity": "P3", "ci_ids": [ci["id"]]})).data
    now = datetime.now(UTC)
    assert_error(await responder.post("/api/rca", {}), 422, "VALIDATION_ERROR", "incident_id")
    assert_error(await responder.post("/api/rca", {"incident_id": incident["id"], "window": {
        "start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()}}), 422, "VALIDATION_ERROR",
        "window.end")
    assert_error(await responder.post("/api/rca", {"incident_id": incident["id"], "window": {
        "start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}, "baseline": {
        "start": (now - timedelta(hours=2)).isoformat(), "end": (now - timedelta(minutes=30)).isoformat()}}),
        422, "VALIDATION_ERROR", "baseline.end")
    assert_error(await responder.post("/api/rca", {"incident_id": "INC-09999999"}), 404, "NOT_FOUND")
    first = await responder.post("/api/rca", {"incident_id": incident["id"]}, headers={"Idempotency-Key": "rca-1"})
    again = await responder.post("/api/rca", {"incident_id": incident["id"]}, headers={"Idempotency-Key": "rca-1"})
    assert again.headers.get("Idempotent-Replayed") == "true" and again.data["id"] == first.data["id"]
    assert_error(await responder.call("PUT", "/api/ai/settings", json={"llm_enabled": False}), 403, "FORBIDDEN")
    made = await admin.call("PUT", "/api/ai/settings", json={"auto_rca_severities": ["P1"]})
    assert made.data["version"] == 1 and made.headers["ETag"] == '"1"'
    assert_error(await admin.call("PUT", "/api/ai/settings", json={"llm_enabled": False},
                                  headers={"If-Match": '"7"'}), 409, "CONFLICT")
    assert_error(await admin.call("PUT", "/api/ai/settings", json={"auto_rca_severities": ["P7"]}), 422,
                 "VALIDATION_ERROR", "auto_rca_severities[0]")

    rb = (await admin.post("/api/runbooks", {"name": "touch api", "status": "published", "steps": [
        {"name": "call", "kind": "http", "config": {"url": "https://automation.example/run"}}]})).data
    assert_error(await responder.patch(f"/api/runbooks/{rb['id']}", {"name": "y"}, headers={"If-Match": '"9"'}),
                 409, "CONFLICT")
    await admin.post("/api/itsm/blackouts", {"name": "freeze", "start": (now - timedelta(hours=1)).isoformat(),
                                             "end": (now + timedelta(hours=1)).isoformat()})
    refused = await responder.post(f"/api/runbooks/{rb['id']}/execute", {"incident_id": incident["id"]})
    assert_error(refused, 409, "CONFLICT")
    assert "freeze" in refused.body["error"]
    plan = (await responder.post(f"/api/runbooks/{rb['id']}/execute", {"incident_id": incident["id"],
                                                                        "dry_run": True})).data
    assert plan["status"] == "DRY_RUN" and plan["preflight"]["decision"] == "refused"
    assert_error(await responder.post(f"/api/runbooks/{rb['id']}/execute", {"parameters": {"nope": 1}}), 422,
                 "VALIDATION_ERROR", "parameters.nope")
    assert_error(await responder.post("/api/runbooks", {"name": "bad", "steps": [
        {"name": "x", "kind": "http", "config": {"url": "file:///etc/passwd"}}]}), 422, "VALIDATION_ERROR",
        "steps[0].config.url")

    foreign = await api.tenant(responder.session, ai_stack.tenant_base, ai_stack.control_base)
    for path in (f"/api/rca/{first.data['id']}", f"/api/runbooks/{rb['id']}", f"/api/incidents/{incident['id']}/rca"):
        assert_error(await foreign["admin"].get(path), 404, "NOT_FOUND")
    assert_error(await foreign["responder"].post(f"/api/runbooks/{rb['id']}/execute", {}), 404, "NOT_FOUND")
