"""The CMDB through the gateway, all real processes (services, gateway, Kafka, SQLite): items, relations,
bulk import, blast radius, errors, roles and tenancy; ci.* events read back from the real broker."""

import asyncio
import uuid

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import urls
from tests.support import api
from vigil.cmdb.v1 import cmdb_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def cmdb_events(bootstrap: str, tenant_id: str, expected: int, timeout: float = 30.0) -> list[CloudEvent]:
    consumer = AIOKafkaConsumer(topics.CMDB_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"test-{uuid.uuid4().hex}")
    await consumer.start()
    found: list[CloudEvent] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    for m in msgs:
                        event = CloudEvent.from_kafka(m.headers, m.value)
                        if event.tenant_id == tenant_id:
                            found.append(event)
    finally:
        await consumer.stop()
    return found


def codes(resp) -> tuple[int, str, set[str]]:
    return resp.status, resp.body["code"], {f["field"] for f in resp.body.get("fields", [])}


async def test_cmdb_through_the_gateway(stack_factory, kafka_bootstrap):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_url, control_url, f"cmdb-{uuid.uuid4().hex[:6]}")
        other = await api.tenant(session, tenant_url, control_url, f"cmdb-{uuid.uuid4().hex[:6]}")
        admin, responder, viewer = users["admin"], users["responder"], users["viewer"]

        made = await responder.post("/api/cmdb/items", {
            "name": "orders-db", "class": "database", "environment": "production", "criticality": "critical",
            "owner": "team-data", "attributes": {"ip": "10.0.0.1", "engine": "postgres"}})
        assert made.status == 201, made.body
        db = made.data
        assert (db["class"], db["attributes"]["engine"], db["version"]) == ("database", "postgres", 1)
        api_ci = (await responder.post("/api/cmdb/items", {"name": "orders-api", "class": "service",
                                                           "criticality": "high"})).data
        assert api_ci["environment"] == "production" and api_ci["criticality"] == "high"

        # bad input: the documented 4xx naming the fields, never a 500
        assert codes(await responder.post("/api/cmdb/items", {"name": "x"})) == (422, "VALIDATION_ERROR", {"class"})
        assert codes(await responder.post("/api/cmdb/items", {"name": "x", "class": "Server!"})) == (
            422, "VALIDATION_ERROR", {"class"})
        assert codes(await responder.post("/api/cmdb/items", {"name": "x", "class": "server", "colour": 1}))[2] == {
            "colour"}
        assert codes(await viewer.post("/api/cmdb/items", {"name": "x", "class": "server"}))[:2] == (403, "FORBIDDEN")
        assert codes(await responder.get("/api/cmdb/items?colour=red"))[2] == {"colour"}
        assert (await responder.get("/api/cmdb/items/not-an-id")).status == 404

        rel = await responder.post("/api/cmdb/relations", {"source_id": api_ci["id"], "target_id": db["id"],
                                                           "type": "depends_on"})
        assert rel.status == 201, rel.body
        assert codes(await responder.post("/api/cmdb/relations", {
            "source_id": api_ci["id"], "target_id": db["id"], "type": "depends_on"}))[:2] == (409, "CONFLICT")
        assert codes(await responder.post("/api/cmdb/relations", {
            "source_id": db["id"], "target_id": db["id"], "type": "depends_on"})) == (
            422, "VALIDATION_ERROR", {"target_id"})
        assert codes(await responder.post("/api/cmdb/relations", {
            "source_id": api_ci["id"], "target_id": str(uuid.uuid4()), "type": "depends_on"})) == (
            422, "VALIDATION_ERROR", {"target_id"})
        assert codes(await responder.post("/api/cmdb/relations", {
            "source_id": api_ci["id"], "target_id": db["id"], "type": "likes"})) == (422, "VALIDATION_ERROR", {"type"})

        # bulk import: refs tie the new items together and to existing ones; all or nothing
        rows = [{"name": f"web-{i}", "class": "application", "environment": "staging" if i % 2 else "production",
                 "ref": f"w{i}"} for i in range(20)]
        rels = [{"source_id": f"w{i}", "target_id": api_ci["id"], "type": "depends_on"} for i in range(20)]
        bad = await admin.post("/api/cmdb/import", {
            "items": [*rows, {"name": "", "class": "server"}],
            "relations": [*rels, {"source_id": "w1", "target_id": "nowhere", "type": "uses"}]})
        assert codes(bad) == (422, "VALIDATION_ERROR", {"items[20].name", "relations[20].target_id"})
        assert (await viewer.get("/api/cmdb/items?limit=1")).data["total"] == 2
        assert (await responder.post("/api/cmdb/import", {"items": rows})).status == 403
        imported = await admin.post("/api/cmdb/import", {"items": rows, "relations": rels})
        assert imported.status == 201, imported.body
        assert (imported.data["items_created"], imported.data["relations_created"]) == (20, 20)

        listed = (await viewer.get("/api/cmdb/items?class=application&environment=staging&limit=5")).data
        assert (listed["total"], len(listed["items"]), listed["limit"]) == (10, 5, 5)
        assert [i["name"] for i in (await viewer.get("/api/cmdb/items?q=orders")).data["items"]] == [
            "orders-api", "orders-db"]

        # blast radius: the database failing reaches the api (depth 1) and the 20 web apps (depth 2)
        impact = (await viewer.get(f"/api/cmdb/impact?ci_id={db['id']}&limit=5")).data
        assert impact["total"] == 21 and len(impact["items"]) == 5
        first = impact["items"][0]
        assert (first["item"]["name"], first["depth"], first["path"], first["relation_types"]) == (
            "orders-api", 1, [db["id"], api_ci["id"]], ["depends_on"])
        assert impact["items"][1]["depth"] == 2 and len(impact["items"][1]["path"]) == 3
        assert impact["summary"] == {"total": 21, "by_class": {"service": 1, "application": 20},
                                     "by_environment": {"production": 11, "staging": 10},
                                     "highest_criticality": "high", "max_depth": 2}
        shallow = (await viewer.get(f"/api/cmdb/impact?ci_id={db['id']}&depth=1")).data
        assert [x["item"]["name"] for x in shallow["items"]] == ["orders-api"]
        filtered = (await viewer.get(f"/api/cmdb/impact?ci_id={db['id']}&relation_type=runs_on")).data
        assert filtered["total"] == 0 and filtered["summary"]["highest_criticality"] is None
        causes = (await viewer.get(f"/api/cmdb/impact?ci_id={imported.data['refs']['w3']}&direction=upstream")).data
        assert [(x["item"]["name"], x["depth"]) for x in causes["items"]] == [("orders-api", 1), ("orders-db", 2)]
        assert codes(await viewer.get("/api/cmdb/impact")) == (422, "VALIDATION_ERROR", {"ci_id"})
        assert codes(await viewer.get(f"/api/cmdb/impact?ci_id={db['id']}&direction=sideways&depth=x"))[2] == {
            "depth"}
        assert codes(await viewer.get(f"/api/cmdb/impact?ci_id={db['id']}&direction=sideways"))[2] == {"direction"}
        assert (await viewer.get(f"/api/cmdb/impact?ci_id={uuid.uuid4()}")).status == 404

        types = (await viewer.get("/api/cmdb/relation-types")).data["items"]
        assert {t["name"]: t["propagation"] for t in types}["depends_on"] == "to_source"
        assert (await viewer.get(f"/api/cmdb/relations?ci_id={api_ci['id']}")).data["total"] == 21

        # PATCH with If-Match; a stale version is a 409
        patched = await responder.patch(f"/api/cmdb/items/{db['id']}", {"owner": "dba"}, headers={"If-Match": '"1"'})
        assert patched.status == 200 and patched.data["version"] == 2 and patched.headers["ETag"] == '"2"'
        assert codes(await responder.patch(f"/api/cmdb/items/{db['id']}", {"owner": "x"},
                                           headers={"If-Match": '"1"'}))[:2] == (409, "CONFLICT")
        assert codes(await responder.patch(f"/api/cmdb/items/{db['id']}", {"criticality": "huge"}))[:2] == (
            422, "VALIDATION_ERROR")

        # tenancy: another tenant sees nothing of ours, whatever id it guesses
        stranger = other["admin"]
        assert (await stranger.get(f"/api/cmdb/items/{db['id']}")).status == 404
        assert (await stranger.patch(f"/api/cmdb/items/{db['id']}", {"owner": "x"})).status == 404
        assert (await stranger.delete(f"/api/cmdb/items/{db['id']}")).status == 404
        assert (await stranger.delete(f"/api/cmdb/relations/{rel.data['id']}")).status == 404
        assert (await stranger.get(f"/api/cmdb/impact?ci_id={db['id']}")).status == 404
        assert (await stranger.get("/api/cmdb/items")).data["total"] == 0
        assert codes(await stranger.post("/api/cmdb/relations", {
            "source_id": db["id"], "target_id": api_ci["id"], "type": "uses"}))[0] == 422

        # delete: responder may not delete a CI; admin may, and its relations go with it
        assert (await responder.delete(f"/api/cmdb/items/{api_ci['id']}")).status == 403
        gone = await admin.delete(f"/api/cmdb/items/{api_ci['id']}")
        assert gone.status == 200 and gone.data["relations_deleted"] == 21
        assert (await viewer.get(f"/api/cmdb/impact?ci_id={db['id']}")).data["total"] == 0
        assert (await responder.delete(f"/api/cmdb/relations/{rel.data['id']}")).status == 404

    # ci.created x2, ci.related, ci.imported (one chunk), ci.updated, ci.deleted; ordered per CI (the key), not
    # across CIs (partitions)
    events = await cmdb_events(kafka_bootstrap, responder.tenant_id, 6)
    assert sorted(e.type for e in events) == sorted(["ci.created", "ci.created", "ci.related", "ci.imported",
                                                     "ci.updated", "ci.deleted"])
    assert all(e.source == "vigil/cmdb" for e in events)
    by_type = {e.type: cmdb_pb2.CiEvent.FromString(e.data) for e in events}
    assert [e.type for e in events if e.subject == db["id"]] == ["ci.created", "ci.updated"]
    assert {i.name for e in events if e.type == "ci.created" for i in cmdb_pb2.CiEvent.FromString(e.data).items} == {
        "orders-db", "orders-api"}
    imported_event = by_type["ci.imported"]
    assert (len(imported_event.items), len(imported_event.relations), imported_event.chunks) == (20, 20, 1)
    assert list(by_type["ci.updated"].changed_fields) == ["owner"]
    assert by_type["ci.deleted"].items[0].id == api_ci["id"] and len(by_type["ci.deleted"].relations) == 21
    assert by_type["ci.related"].envelope.actor.email == responder.email
