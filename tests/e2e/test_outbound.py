"""End to end through real processes (five services, the gateway, the Kafka broker): an incident's transition
reaches a signed webhook, the live stream and an MCP tool, all naming the same event and incident; so do an alert
through a door, the incident it opens, an analysis and a runbook run."""

import asyncio
import uuid
from types import SimpleNamespace

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import alerts, api
from tests.support.mcp_client import mcp_session
from tests.support.receiver import Receiver
from tests.support.sse import open_stream

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@pytest.fixture
async def outbound(stack_factory):
    """A stack whose webhooks may reach loopback, a receiver for them, and a fresh tenant's users."""
    stack = stack_factory({"VIGIL_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'})
    tenant_url, control_url = urls(stack)
    receiver = await Receiver().start()
    try:
        async with aiohttp.ClientSession() as session:
            users = await api.tenant(session, tenant_url, control_url, f"out-{uuid.uuid4().hex[:6]}")
            yield SimpleNamespace(tenant_url=tenant_url, session=session, users=users, receiver=receiver)
    finally:
        await receiver.stop()


async def test_a_transition_reaches_webhook_stream_and_mcp_with_the_same_ids(outbound):
    tenant_url, session, users, receiver = (outbound.tenant_url, outbound.session, outbound.users,
                                            outbound.receiver)
    admin, responder = users["admin"], users["responder"]
    hook = (await admin.post("/api/webhooks", {"url": receiver.url + "/vigil",
                                               "event_types": ["incident.transitioned"]})).data
    stream = await open_stream(session, tenant_url, users["viewer"].headers, types="incident.*")
    made = (await responder.post("/api/incidents", {"title": "Checkout errors", "severity": "P1"})).data
    moved = await responder.patch(f"/api/incidents/{made['id']}", {"status": "open", "note": "paging"})
    assert moved.status == 200, moved.body

    created, transitioned = await stream.events(2, timeout=60)
    await stream.close()
    assert created.json["type"] == "incident.created"
    assert transitioned.json["type"] == "incident.transitioned"
    await receiver.wait_for(lambda r: bool(r.successes()), timeout=60)
    delivered = receiver.successes()[0]

    async with mcp_session(tenant_url, responder.headers) as mcp:
        tool = await mcp.call_tool("get_incident", {"id": made["reference"]})
        timeline = await mcp.call_tool("get_incident_timeline", {"id": made["id"]})
    deliveries = (await admin.get(f"/api/webhooks/{hook['id']}/deliveries")).data["items"]

    # One event: the same id on the webhook and the stream; one incident: the same in all three.
    assert delivered.signed_by(hook["secret"])
    assert delivered.headers["Vigil-Event"] == "incident.transitioned"
    assert delivered.event == transitioned.json and delivered.event["id"] == transitioned.id
    assert delivered.event["resource"] == {"type": "incident", "id": made["id"]}
    assert delivered.event["details"]["to_status"] == "open"
    assert not tool.is_error
    assert tool.structured_content == delivered.event["data"] == moved.data
    assert [e["to_status"] for e in timeline.structured_content["items"] if e["kind"] == "transitioned"] == ["open"]
    assert [(d["event_id"], d["id"], d["status"]) for d in deliveries] == [
        (transitioned.id, delivered.delivery_id, "succeeded")]


async def collect(stream, done, timeout: float = 90.0) -> list[dict]:
    """Stream events (their JSON) until `done(events)` holds; bounded."""
    seen: list[dict] = []
    async with asyncio.timeout(timeout):
        while not done(seen):
            message = await stream.next(timeout)
            assert message.id == message.json["id"]
            seen.append(message.json)
    return seen


async def call(mcp, tool: str, arguments: dict) -> dict:
    result = await mcp.call_tool(tool, arguments)
    assert not result.is_error, (tool, result.content)
    return result.structured_content


def one(events: list[dict], event_type: str, resource_id: str | None = None) -> dict:
    (found,) = [e for e in events if e["type"] == event_type
                and (resource_id is None or e["resource"]["id"] == resource_id)]
    return found


async def test_an_alert_an_analysis_and_a_run_reach_webhook_and_stream(outbound):
    """An alert posted to the generic door with an integration key becomes `alert.created` and the incident's
    `incident.created` (the same ids on a signed webhook and the stream); an analysis run with the MCP tool
    reaches both as `rca.completed`; a runbook executed with the MCP tool reports its run as `runbook_run.*`."""
    tenant_url, session, users, receiver = (outbound.tenant_url, outbound.session, outbound.users,
                                            outbound.receiver)
    admin = users["admin"]
    hook = (await admin.post("/api/webhooks", {
        "url": receiver.url + "/vigil", "event_types": ["alert.*", "incident.created", "rca.*",
                                                        "runbook_run.*"]})).data
    stream = await open_stream(session, tenant_url, users["viewer"].headers,
                               types="alert.*,incident.created,rca.*,runbook_run.*")
    integration, key = await alerts.integration(admin, "generic")
    door = await session.post(tenant_url + "/api/alerts/generic", headers={"Authorization": f"Bearer {key}"},
                              json={"alerts": [{"title": "Checkout 5xx", "fingerprint": "checkout-5xx",
                                                "severity": "critical", "labels": {"service": "checkout"}}]})
    assert door.status == 202, await door.text()
    (alert_id,) = (await door.json())["data"]["alert_ids"]

    events = await collect(stream, lambda seen: {"alert.created", "incident.created"} <= {
        e["type"] for e in seen})
    alerted = one(events, "alert.created", alert_id)
    incident_id = alerted["data"]["incident_id"]
    opened = one(events, "incident.created", incident_id)

    agent = {"X-Api-Key": (await admin.post("/api/api-keys", {
        "name": "agent", "scopes": ["incidents:read", "ai:*", "runbooks:*"]})).data["token"]}
    async with mcp_session(tenant_url, agent) as mcp:
        rca = await call(mcp, "run_rca", {"incident_id": incident_id})
        got_rca = await call(mcp, "get_rca", {"id": rca["id"]})
        of_incident = await call(mcp, "list_incident_rca", {"id": incident_id})
        runbook = (await admin.post("/api/runbooks", {
            "name": "Note the incident", "status": "published", "steps": [
                {"name": "note", "kind": "vigil",
                 "config": {"action": "incident.note", "message": "runbook ran"}}]})).data
        listed = await call(mcp, "list_runbooks", {"status": ["published"]})
        plan = await call(mcp, "execute_runbook", {"id": runbook["id"], "incident_id": incident_id,
                                                   "dry_run": True})
        run_id = (await call(mcp, "execute_runbook", {"id": runbook["id"], "incident_id": incident_id}))["id"]
        events += await collect(stream, lambda seen: any(
            e["type"] == "rca.completed" and e["resource"]["id"] == rca["id"] for e in events + seen) and any(
            e["type"] == "runbook_run.completed" for e in seen))
        run = await call(mcp, "get_runbook_run", {"id": run_id})
    await stream.close()
    wanted = {alerted["id"], opened["id"], one(events, "rca.completed", rca["id"])["id"],
              one(events, "runbook_run.completed", run_id)["id"]}
    await receiver.wait_for(lambda r: wanted <= {d.event["id"] for d in r.successes()}, timeout=90)
    delivered = {d.event["id"]: d for d in receiver.successes()}

    # The alert and the incident it opened: the same event ids, payloads and resources on both channels.
    for event in (alerted, opened):
        assert delivered[event["id"]].signed_by(hook["secret"])
        assert delivered[event["id"]].event == event
        assert delivered[event["id"]].headers["Vigil-Event"] == event["type"]
    assert alerted["resource"] == {"type": "alert", "id": alert_id}
    assert alerted["data"]["integration_id"] == integration["id"] and alerted["data"]["decision"] == "created"
    assert opened["data"]["reference"] == alerted["data"]["incident_reference"]
    # The analysis as the tool answered it, the stream showed it and the webhook delivered it.
    completed = one(events, "rca.completed", rca["id"])
    assert delivered[completed["id"]].event == completed and delivered[completed["id"]].signed_by(hook["secret"])
    assert completed["data"]["incident_id"] == incident_id == rca["incident_id"]
    assert completed["data"]["causes"] == rca["causes"] and got_rca["id"] == rca["id"]
    assert rca["id"] in [r["id"] for r in of_incident["items"]]
    # The run: a dry run publishes nothing; the real run's events name it, its last step and its end.
    assert runbook["id"] in [r["id"] for r in listed["items"]]
    assert plan["status"] == "DRY_RUN" and plan["id"] not in {e["resource"]["id"] for e in events}
    run_events = [e for e in events if e["type"].startswith("runbook_run.")]
    assert [e["type"] for e in run_events] == ["runbook_run.started", "runbook_run.step_completed",
                                                "runbook_run.completed"]
    assert {e["resource"]["id"] for e in run_events} == {run_id}
    assert run_events[1]["details"] == {"step_index": 0} and run_events[-1]["data"] == run
    assert run["status"] == "COMPLETED"
    assert delivered[run_events[-1]["id"]].event == run_events[-1]
