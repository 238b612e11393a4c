"""Creating an incident on a CI records its blast radius: the incident service asks the CMDB over gRPC
(real processes, real Kafka). A CI the CMDB does not know, or a CMDB that is down, never fails the create."""

import asyncio
import uuid

import aiohttp
import pytest

from tests.conftest import urls
from tests.support import api
from vigil.runtime.kafka_local import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


async def test_incident_on_a_ci_records_the_impacted_cis(stack_factory):
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_url, control_url, f"imp-{uuid.uuid4().hex[:6]}")
        admin, responder = users["admin"], users["responder"]
        done = (await admin.post("/api/cmdb/import", {
            "items": [{"name": n, "class": c, "ref": n} for n, c in
                      (("db", "database"), ("api", "service"), ("web", "application"), ("batch", "service"))],
            "relations": [{"source_id": "api", "target_id": "db", "type": "depends_on"},
                          {"source_id": "web", "target_id": "api", "type": "depends_on"}]})).data
        refs = done["refs"]
        made = await responder.post("/api/incidents", {"title": "db down", "severity": "P1",
                                                       "ci_ids": [refs["db"], "ci-unknown-to-cmdb"]})
        assert made.status == 201, made.body
        assert made.data["impacted_ci_ids"] == [refs["api"], refs["web"]]
        again = (await users["viewer"].get(f"/api/incidents/{made.data['id']}")).data
        assert again["impacted_ci_ids"] == [refs["api"], refs["web"]]
        leaf = (await responder.post("/api/incidents", {"title": "web slow", "severity": "P3",
                                                        "ci_ids": [refs["web"]]})).data
        assert leaf["impacted_ci_ids"] == []
        unknown = await responder.post("/api/incidents", {"title": "?", "severity": "P4", "ci_ids": ["ci-001"]})
        assert unknown.status == 201 and unknown.data["impacted_ci_ids"] == []
        # another tenant's incident on the same CI id learns nothing of this tenant's graph
        other = (await api.tenant(session, tenant_url, control_url, f"imp-{uuid.uuid4().hex[:6]}"))["responder"]
        theirs = await other.post("/api/incidents", {"title": "x", "severity": "P2", "ci_ids": [refs["db"]]})
        assert theirs.status == 201 and theirs.data["impacted_ci_ids"] == []


async def test_a_change_to_the_graph_reaches_the_next_creates(stack_factory):
    """The incident service reuses the CMDB's answer for the same CIs until the CMDB's ci.* event of a change to
    the tenant's graph arrives over Kafka; creates after that see the new blast radius."""
    stack = stack_factory()
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_url, control_url, f"imp-{uuid.uuid4().hex[:6]}")
        admin, responder = users["admin"], users["responder"]
        refs = (await admin.post("/api/cmdb/import", {
            "items": [{"name": n, "class": "service", "ref": n} for n in ("db", "api", "batch")],
            "relations": [{"source_id": "api", "target_id": "db", "type": "depends_on"}]})).data["refs"]
        for _ in range(3):  # asked once, then answered from the cache
            made = await responder.post("/api/incidents", {"title": "db down", "severity": "P1",
                                                           "ci_ids": [refs["db"]]})
            assert made.data["impacted_ci_ids"] == [refs["api"]]
        related = await admin.post("/api/cmdb/relations", {"source_id": refs["batch"], "target_id": refs["db"],
                                                           "type": "depends_on"})
        assert related.status == 201, related.body
        deadline = asyncio.get_running_loop().time() + 15  # well within the 30 s bound of the cache
        while True:
            made = await responder.post("/api/incidents", {"title": "db down", "severity": "P1",
                                                           "ci_ids": [refs["db"]]})
            if sorted(made.data["impacted_ci_ids"]) == sorted([refs["api"], refs["batch"]]):
                break
            assert made.data["impacted_ci_ids"] == [refs["api"]]  # the old radius until the event arrives
            assert asyncio.get_running_loop().time() < deadline, "the graph change never reached the incident service"
            await asyncio.sleep(0.2)


async def test_a_cmdb_that_is_down_does_not_fail_the_create(stack_factory):
    stack = stack_factory(env={"VIGIL_CMDB_ADDR": f"127.0.0.1:{free_port()}"}, services=("incident",))
    tenant_url, control_url = urls(stack)
    async with aiohttp.ClientSession() as session:
        responder = (await api.tenant(session, tenant_url, control_url, f"imp-{uuid.uuid4().hex[:6]}"))["responder"]
        made = await responder.post("/api/incidents", {"title": "db down", "severity": "P1",
                                                       "ci_ids": [str(uuid.uuid4())]})
        assert made.status == 201, made.body
        assert made.data["impacted_ci_ids"] == []
