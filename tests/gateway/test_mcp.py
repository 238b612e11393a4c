"""The MCP server through the MCP SDK's own client (streamable HTTP) against an in-process gateway and the
real incident, ITSM and CMDB services: tools listed by scope, each tool called, errors as the API's."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.support import api
from tests.support.alerts import integration, processed
from tests.support.mcp_client import mcp_session

pytestmark = pytest.mark.kafka


def text(result) -> dict:
    return orjson.loads(result.content[0].text)


async def test_incident_tools_through_the_sdk_client(outbound_env):
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    responder, viewer = users["responder"], users["viewer"]
    async with mcp_session(outbound_env["tenant"], responder.headers) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert {"list_incidents", "create_incident", "get_incident", "update_incident", "list_changes",
                "get_impact", "search_logs"} <= set(listed)
        assert listed["create_incident"].input_schema["properties"]["severity"]["enum"] == ["P1", "P2", "P3", "P4"]
        made = await session.call_tool("create_incident", {"title": "Disk full", "severity": "P2"})
        assert not made.is_error, made.content
        incident = made.structured_content
        assert incident["reference"].startswith("INC-") and incident["status"] == "triggered"
        moved = await session.call_tool("update_incident", {"id": incident["id"], "status": "open",
                                                            "note": "on it", "if_match_version": 1})
        assert not moved.is_error and moved.structured_content["status"] == "open"
        stale = await session.call_tool("update_incident", {"id": incident["id"], "status": "acknowledged",
                                                            "if_match_version": 1})
        assert stale.is_error and text(stale)["code"] == "CONFLICT"
        wrong = await session.call_tool("update_incident", {"id": incident["id"], "status": "closed"})
        assert wrong.is_error and text(wrong)["code"] == "INVALID_TRANSITION"
        got = await session.call_tool("get_incident", {"id": incident["reference"]})
        rest = (await responder.get(f"/api/incidents/{incident['id']}")).data
        assert got.structured_content == rest
        found = await session.call_tool("list_incidents", {"status": ["open"], "q": "disk"})
        assert [i["id"] for i in found.structured_content["items"]] == [incident["id"]]
        searched = await session.call_tool("search_incidents", {"filters": [
            {"attribute": "severity", "operator": "IS_ANY_OF", "values": [{"value": "P2"}]}]})
        assert not searched.is_error, searched.content
        assert [i["id"] for i in searched.structured_content["items"]] == [incident["id"]]
        bad = await session.call_tool("create_incident", {"title": "x", "severity": "P9"})
        assert bad.is_error and text(bad)["code"] == "VALIDATION_ERROR"
        assert text(bad)["fields"][0]["field"] == "severity"

    async with mcp_session(outbound_env["tenant"], viewer.headers) as session:
        listed = {t.name for t in (await session.list_tools()).tools}
        assert "get_incident" in listed and "create_incident" not in listed
        refused = await session.call_tool("create_incident", {"title": "nope", "severity": "P1"})
        assert refused.is_error and text(refused)["code"] == "FORBIDDEN"
        assert (await session.call_tool("get_incident", {"id": incident["id"]})).structured_content["id"] == \
            incident["id"]


async def test_an_api_keys_scopes_bound_what_an_agent_can_do(outbound_env):
    """An agent with an API key: it sees and calls only the tools its scopes allow; a tool whose scope it lacks
    is refused before anything runs; what it changes is audited as the route it called."""
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    minted = await admin.post("/api/api-keys", {"name": "agent", "scopes": ["incidents:read", "cmdb:read"]})
    assert minted.status == 201, minted.body
    reader = {"X-Api-Key": minted.data["token"]}
    writer = {"X-Api-Key": (await admin.post("/api/api-keys", {"name": "writer", "scopes": ["incidents:*"]}))
              .data["token"]}
    async with mcp_session(outbound_env["tenant"], writer) as session:
        assert {t.name for t in (await session.list_tools()).tools} == {
            "list_incidents", "search_incidents", "get_incident", "get_incident_timeline", "create_incident",
            "update_incident", "list_alerts", "get_alert", "list_incident_alerts"}
        made = await session.call_tool("create_incident", {"title": "Made by an agent", "severity": "P3"})
        assert not made.is_error, made.content
        incident = made.structured_content
        refused = await session.call_tool("list_cis", {})
        assert refused.is_error and text(refused)["code"] == "FORBIDDEN" and "cmdb:read" in text(refused)["error"]

    async with mcp_session(outbound_env["tenant"], reader) as session:
        listed = {t.name for t in (await session.list_tools()).tools}
        assert {"get_incident", "list_cis", "get_impact"} <= listed
        assert not listed & {"create_incident", "update_incident", "list_changes", "search_logs"}
        for tool, arguments in (("create_incident", {"title": "nope", "severity": "P1"}),
                                ("update_incident", {"id": incident["id"], "status": "open"}),
                                ("list_changes", {})):
            refused = await session.call_tool(tool, arguments)
            assert refused.is_error and text(refused)["code"] == "FORBIDDEN", tool
        got = await session.call_tool("get_incident", {"id": incident["id"]})
        assert got.structured_content["status"] == "triggered"  # nothing moved it
        # Allowed, so it reaches the route: this fixture runs no CMDB service, and the route says so.
        assert text(await session.call_tool("list_cis", {}))["code"] == "UNAVAILABLE"

    audit = (await admin.get("/api/audit", params={"limit": 200})).data["items"]
    creates = [e for e in audit if e.get("path") == "/api/incidents" and e.get("method") == "POST"]
    assert [e["resource_id"] for e in creates] == [incident["id"]]
    assert not [e for e in audit if e.get("path") == "/api/mcp"]  # MCP messages themselves only read


async def test_alert_tools_and_the_ai_tools_scopes(outbound_env):
    """Alerts posted through the generic door are read through the alert and integration tools (read-only: no tool
    changes an integration or sees its key); the RCA and runbook tools are bounded by their scopes."""
    users = await api.tenant(outbound_env["session"], outbound_env["tenant"], outbound_env["control"])
    admin = users["admin"]
    hook, key = await integration(admin, "generic")
    posted = await admin.session.post(outbound_env["tenant"] + "/api/alerts/generic", json={"alerts": [
        {"title": "Queue backlog", "fingerprint": "billing-queue", "severity": "critical",
         "labels": {"service": "billing"}}]}, headers={"Authorization": f"Bearer {key}"})
    assert posted.status == 202, await posted.text()
    (alert_id,) = (await posted.json())["data"]["alert_ids"]
    (alert,) = await processed(admin, [alert_id])
    assert alert["decision"] == "created"

    def minted(*scopes: str):
        return admin.post("/api/api-keys", {"name": "-".join(scopes), "scopes": list(scopes)})

    reader = {"X-Api-Key": (await minted("incidents:read", "integrations:read")).data["token"]}
    async with mcp_session(outbound_env["tenant"], reader) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert {"list_alerts", "get_alert", "list_incident_alerts", "list_integrations", "get_integration"} <= set(
            listed)
        assert not set(listed) & {"run_rca", "get_rca", "list_runbooks", "execute_runbook", "create_integration"}
        assert listed["list_alerts"].input_schema["properties"]["decision"]["type"] == "array"
        found = await session.call_tool("list_alerts", {"integration_id": hook["id"], "decision": ["created"]})
        assert not found.is_error, found.content
        assert [a["id"] for a in found.structured_content["items"]] == [alert_id]
        got = await session.call_tool("get_alert", {"id": alert_id})
        assert got.structured_content == (await admin.get(f"/api/alerts/{alert_id}")).data
        of_incident = await session.call_tool("list_incident_alerts", {"id": alert["incident_reference"]})
        assert [a["id"] for a in of_incident.structured_content["items"]] == [alert_id]
        integrations = await session.call_tool("list_integrations", {"type": "generic"})
        assert [i["id"] for i in integrations.structured_content["items"]] == [hook["id"]]
        one = await session.call_tool("get_integration", {"id": hook["id"]})
        assert one.structured_content["name"] == hook["name"] and key not in one.content[0].text
        missing = await session.call_tool("get_alert", {"id": str(uuid.uuid4())})
        assert missing.is_error and text(missing)["code"] == "NOT_FOUND"

    ai_reader = {"X-Api-Key": (await minted("ai:read", "runbooks:read")).data["token"]}
    async with mcp_session(outbound_env["tenant"], ai_reader) as session:
        listed = {t.name for t in (await session.list_tools()).tools}
        assert listed == {"get_rca", "list_incident_rca", "list_runbooks", "get_runbook", "get_runbook_run"}
        for tool, arguments, scope in (("run_rca", {"incident_id": alert["incident_id"]}, "ai:write"),
                                       ("execute_runbook", {"id": "rb-1", "dry_run": True}, "runbooks:write"),
                                       ("list_alerts", {}, "incidents:read")):
            refused = await session.call_tool(tool, arguments)
            assert refused.is_error and text(refused)["code"] == "FORBIDDEN" and scope in text(refused)["error"], tool
