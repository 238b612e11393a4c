"""The audit log through a real gateway and incident service: every mutation on either plane by an authenticated
caller, refused ones included, with actor, tenant, route, resource, status, trace id and source; never a secret;
the tenant's admins read their tenant's (filters, cursor paging), the operator reads everyone's."""

from __future__ import annotations

import asyncio
import base64

import orjson
import pytest

from tests.support.api import PASSWORD, operator_token, request, tenant

pytestmark = pytest.mark.kafka
INCIDENT = {"title": "Latency on checkout", "severity": "P2"}


async def audit_pages(client, **query) -> list[dict]:
    entries, cursor = [], ""
    while True:
        page = (await client.get("/api/audit", params={**query, "limit": 2, **({"cursor": cursor} if cursor else {})})).data
        entries += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return entries


async def test_mutations_are_recorded_and_read_by_admins_only(gateway_env, acme):
    admin, responder, viewer = acme["admin"], acme["responder"], acme["viewer"]
    made = await responder.post("/api/incidents", INCIDENT)
    await responder.patch(f"/api/incidents/{made.data['id']}", {"severity": "P1"}, headers={"If-Match": '"1"'})
    assert (await viewer.post("/api/incidents", INCIDENT)).status == 403  # refused, recorded
    key = (await admin.post("/api/api-keys", {"name": "reader", "scopes": ["incidents:read"]})).data
    by_key = await request(admin.session, "POST", admin.base + "/api/incidents", json=INCIDENT,
                           headers={"X-Api-Key": key["token"], "User-Agent": "audit-test/1"})
    assert by_key.status == 403
    await responder.get("/api/incidents")  # reads are not audited
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    await request(session, "POST", f"{control}/api/tenants/acme/users", headers=op,
                  json={"email": "new@acme.test", "password": "secret-password-9", "role": "viewer"})

    entries = await audit_pages(admin)
    seen = [(e["actor"], e["method"], e["route"], e["status"]) for e in entries]
    assert (responder.email, "POST", "/api/incidents", 201) in seen
    assert (responder.email, "PATCH", "/api/incidents/{id}", 200) in seen
    assert (viewer.email, "POST", "/api/incidents", 403) in seen
    assert (f"api_key:{key['id']}", "POST", "/api/incidents", 403) in seen
    assert (admin.email, "POST", "/api/api-keys", 201) in seen
    assert ("operator@vigil.test", "POST", "/api/tenants/{tenant_id}/users", 201) in seen  # the operator's, too
    assert all(e["method"] != "GET" for e in entries)
    created = next(e for e in entries if e["route"] == "/api/incidents" and e["status"] == 201)
    assert created["resource_id"] == made.data["id"] and created["tenant_id"] == "acme"
    assert created["plane"] == "tenant" and created["source_ip"] == "127.0.0.1" and len(created["trace_id"]) == 32
    assert created["actor_kind"] == "user" and created["code"] == ""
    refused = next(e for e in entries if e["actor"] == f"api_key:{key['id']}")
    assert refused["code"] == "FORBIDDEN" and refused["actor_kind"] == "api_key" and refused["user_agent"] == "audit-test/1"
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert len({e["id"] for e in entries}) == len(entries)
    # never a secret: no password, token or key in any entry
    dump = orjson.dumps(entries).decode()
    for secret in (PASSWORD, "secret-password-9", key["token"], admin.token, responder.token):
        assert secret not in dump
    # filters
    assert {e["actor"] for e in await audit_pages(admin, actor=viewer.email)} == {viewer.email}
    assert {e["status"] for e in await audit_pages(admin, status="4xx")} == {403}
    assert {e["route"] for e in await audit_pages(admin, route="/api/incidents/")} == {"/api/incidents/{id}"}
    assert [e["resource_id"] for e in await audit_pages(admin, resource_id=made.data["id"], method="PATCH")] == [
        made.data["id"]]
    assert await audit_pages(admin, **{"from": "2999-01-01T00:00:00Z"}) == []
    # only admins read it
    assert (await responder.get("/api/audit")).status == 403 and (await viewer.get("/api/audit")).status == 403
    bad = await admin.get("/api/audit", params={"cursor": "not-a-cursor"})
    assert bad.status == 422 and bad.body["fields"][0]["field"] == "cursor"
    # a time that leaves the years 1-9999 once in UTC is a 422 naming its parameter (it was a 500)
    edge = base64.urlsafe_b64encode(orjson.dumps(["0001-01-01T00:00:00+14:00", "x"])).decode()
    for params, field in (({"cursor": edge}, "cursor"), ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
                          ({"to": "9999-12-31T23:59:59-14:00"}, "to")):
        bad = await admin.get("/api/audit", params=params)
        assert bad.status == 422 and bad.body["fields"][0]["field"] == field, bad.body


async def test_tenants_see_only_their_own_and_the_operator_sees_all(gateway_env, acme):
    globex = await tenant(gateway_env["session"], gateway_env["tenant"], gateway_env["control"], "globex")
    await acme["responder"].post("/api/incidents", INCIDENT)
    await globex["responder"].post("/api/incidents", INCIDENT)
    assert {e["tenant_id"] for e in await audit_pages(globex["admin"])} == {"globex"}
    assert acme["responder"].email not in {e["actor"] for e in await audit_pages(globex["admin"])}
    session, control = gateway_env["session"], gateway_env["control"]
    op = {"Authorization": f"Bearer {await operator_token(session, control)}"}
    everyone = (await request(session, "GET", f"{control}/api/audit", headers=op, params={"limit": 200})).data
    tenants = {e["tenant_id"] for e in everyone["items"]}
    assert {"acme", "globex"} <= tenants
    assert any(e["plane"] == "control" and e["route"] == "/api/tenants" and e["resource_id"] == "globex"
               for e in everyone["items"])
    only = (await request(session, "GET", f"{control}/api/audit", headers=op, params={"tenant_id": "globex"})).data
    assert only["items"] and {e["tenant_id"] for e in only["items"]} == {"globex"}


async def test_every_answered_mutation_is_in_the_log(gateway_env, acme):
    responder = acme["responder"]
    answers = await asyncio.gather(*(responder.post("/api/incidents", INCIDENT) for _ in range(40)))
    ids = {a.data["id"] for a in answers}
    logged = {e["resource_id"] for e in await audit_pages(acme["admin"], route="/api/incidents", method="POST",
                                                          status="201")}
    assert ids <= logged
