"""End to end through real processes (five services, the gateway, the Kafka broker): an incident's transition
reaches a signed webhook, the live stream and an MCP tool, all naming the same event and incident."""

import uuid

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import api
from tests.support.mcp_client import mcp_session
from tests.support.receiver import Receiver
from tests.support.sse import open_stream

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def test_a_transition_reaches_webhook_stream_and_mcp_with_the_same_ids(stack_factory):
    stack = stack_factory({"VIGIL_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'})
    tenant_url, control_url = urls(stack)
    receiver = await Receiver().start()
    try:
        async with aiohttp.ClientSession() as session:
            users = await api.tenant(session, tenant_url, control_url, f"out-{uuid.uuid4().hex[:6]}")
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
    finally:
        await receiver.stop()

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
