"""The OpenAPI 3.1 document of each plane: valid (openapi-spec-validator), the real surface (every route the
aiohttp router serves is in it and nothing else), complete per operation (parameters, errors, security,
scopes, rate classes), and a docs page whose assets the gateway serves itself."""

import re

import pytest
from openapi_spec_validator import validate

from tests.support.api import request

pytestmark = pytest.mark.kafka

METHODS = {"get", "post", "put", "patch", "delete"}


async def documents(gateway_env) -> dict[str, dict]:
    session = gateway_env["session"]
    out = {}
    for plane in ("tenant", "control"):
        resp = await request(session, "GET", gateway_env[plane] + "/api/openapi.json")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/json")
        out[plane] = resp.body
    return out


async def test_each_plane_serves_a_valid_openapi_3_1_document(gateway_env):
    for plane, doc in (await documents(gateway_env)).items():
        assert doc["openapi"] == "3.1.0"
        validate(doc)  # raises on any violation of the OpenAPI 3.1 schema, refs included
        assert doc["components"]["securitySchemes"], plane


async def test_the_document_lists_exactly_the_routes_each_plane_serves(gateway_env):
    docs = await documents(gateway_env)
    for index, plane in enumerate(("tenant", "control")):
        app = gateway_env["runner"].runners[index].app
        served = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
        documented = {(m, p) for p, ops in docs[plane]["paths"].items() for m in ops if m in METHODS}
        assert served - documented == set(), f"{plane}: routes missing from the document"
        assert documented - served == set(), f"{plane}: operations no route serves"


async def test_every_operation_is_described_completely(gateway_env):
    for plane, doc in (await documents(gateway_env)).items():
        ids = []
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                where = f"{plane} {method.upper()} {path}"
                ids.append(op["operationId"])
                assert op["summary"] and op["tags"], where
                assert isinstance(op["x-required-scopes"], list), where
                named = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
                assert named == set(re.findall(r"{(\w+)}", path)), where
                responses = op["responses"]
                assert "500" in responses and "422" in responses, where
                # aiohttp's parser refuses a malformed request (plain text) before any route runs
                assert "text/plain" in responses["400"]["content"], where
                for status, response in responses.items():
                    json_body = response["content"].get("application/json")
                    own_shape = response["description"].startswith("answered in this route's own shape")
                    if int(status) >= 400 and (status != "400" or json_body is not None) and not own_shape:
                        assert json_body["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, where
                if op["security"]:
                    assert {"401", "403"} <= set(responses), where
                    # The stream and MCP check each event's or tool's own scope.
                    assert op["x-required-scopes"] or path in ("/api/auth/me", "/api/events/stream",
                                                               "/api/mcp"), where
                    assert op["x-ratelimit-class"] in ("read", "write", "ai", "ingest"), where
                if method == "post" and op["security"]:
                    assert "Idempotency-Key" in {p["name"] for p in op["parameters"]}, where
        assert len(ids) == len(set(ids)), f"{plane}: operation ids are not unique"


async def test_the_document_says_what_matters_about_particular_operations(gateway_env):
    tenant = (await documents(gateway_env))["tenant"]
    patch = tenant["paths"]["/api/incidents/{id}"]["patch"]
    assert "If-Match" in {p["name"] for p in patch["parameters"]}
    assert {"400", "404", "409", "413"} <= set(patch["responses"])
    assert patch["responses"]["200"]["headers"]["ETag"]
    assert patch["x-required-scopes"] == ["incidents:write"] and patch["x-minimum-role"] == "responder"
    listing = tenant["paths"]["/api/incidents"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 200 and params["status"]["schema"]["type"] == "array"
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"] == {
        "$ref": "#/components/schemas/Listing_Incident_"}
    assert "cursor" in params and "next_cursor" in tenant["components"]["schemas"]["Listing_Incident_"]["properties"]
    search = tenant["paths"]["/api/incidents/search"]["post"]  # a POST that only reads
    assert (search["x-required-scopes"], search["x-minimum-role"], search["x-ratelimit-class"]) == (
        ["incidents:read"], "viewer", "read")
    assert "200" in search["responses"] and "requestBody" in search
    logs = tenant["paths"]["/api/logs"]
    assert logs["post"]["x-ratelimit-class"] == "ingest" and "Retry-After" in logs["post"]["responses"]["429"]["headers"]
    assert "next_cursor" in tenant["components"]["schemas"]["CursorPage_LogRecord_"]["properties"]
    otlp = tenant["paths"]["/v1/traces"]["post"]
    assert set(otlp["requestBody"]["content"]) == {"application/x-protobuf", "application/json"}
    assert set(otlp["responses"]["200"]["content"]) == {"application/x-protobuf", "application/json"}
    assert tenant["paths"]["/api/auth/token"]["post"]["security"] == []
    impact = {p["name"]: p for p in tenant["paths"]["/api/cmdb/impact"]["get"]["parameters"]}
    assert impact["ci_id"]["required"] is True
    error = tenant["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"error", "code", "trace_id"} and "fields" in error["properties"]


async def test_the_webhook_payloads_are_published(gateway_env):
    tenant = (await documents(gateway_env))["tenant"]
    hook = tenant["webhooks"]["incident.transitioned"]["post"]
    schema = hook["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Event_Incident_"}
    event = tenant["components"]["schemas"]["Event_Incident_"]
    assert event["properties"]["data"] == {"$ref": "#/components/schemas/Incident", "description": event[
        "properties"]["data"]["description"]}
    assert {"Vigil-Signature", "Vigil-Delivery", "Vigil-Event", "Vigil-Timestamp"} <= {
        p["name"] for p in hook["parameters"]}
    assert {"change.approved", "request.fulfilled", "ci.updated", "ci.related", "alert.created", "alert.resolved",
            "rca.completed", "runbook_run.awaiting_approval"} <= set(tenant["webhooks"])
    for event_type, name in (("alert.created", "Event_Alert_"), ("rca.completed", "Event_RcaResult_"),
                             ("runbook_run.started", "Event_RunbookRun_")):
        body = tenant["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{name}"}
    assert "webhooks" not in (await documents(gateway_env))["control"]


async def test_the_docs_page_is_served_with_its_own_assets(gateway_env):
    session = gateway_env["session"]
    for plane in ("tenant", "control"):
        base = gateway_env[plane] + "/api/"
        page = await request(session, "GET", base + "docs")
        assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "http://" not in page.body and "https://" not in page.body  # nothing from elsewhere
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.body)
        assert {"docs/swagger-ui-bundle.js", "docs/init.js", "docs/swagger-ui.css"} <= set(assets)
        for asset in assets:
            got = await request(session, "GET", base + asset)
            assert got.status == 200, asset
        init = await request(session, "GET", base + "docs/init.js")
        assert 'url: "openapi.json"' in init.body
        bundle = await request(session, "GET", base + "docs/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in bundle.body
        assert (await request(session, "GET", base + "docs/../../etc/passwd")).status == 404
        assert (await request(session, "GET", base + "docs/swagger-editor.js")).status == 404
