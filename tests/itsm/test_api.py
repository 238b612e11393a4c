"""ITSM through the gateway, as real processes: the five services and the gateway on free ports, the real
Kafka broker, SQLite files. Changes with their state machine, approvals and conflict flags (same CI, a CI
linked in the real CMDB, blackouts), the catalog and service requests, roles, tenancy, the documented 4xx,
and the change.* / request.* events read back from Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import urls
from tests.support import api
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def change_body(title: str, ci_ids: list[str], start: float = 0, hours: float = 4, **extra) -> dict:
    return {"title": title, "type": "normal", "risk_level": "medium", "requested_start": at(start),
            "requested_end": at(start + hours), "implementation_plan": "helm upgrade", "rollback_plan": "helm rollback",
            "ci_ids": ci_ids, **extra}


async def create_ci(client: api.TenantClient, name: str, cls: str) -> str:
    resp = await client.post("/api/cmdb/items", json={"name": name, "class": cls, "environment": "production"})
    assert resp.status == 201, resp.body
    return resp.data["id"]


async def relate(client: api.TenantClient, source: str, target: str, rel: str) -> None:
    resp = await client.post("/api/cmdb/relations", json={"source_id": source, "target_id": target, "type": rel})
    assert resp.status == 201, resp.body


async def read_events(bootstrap: str, tenant_id: str, until: Callable[[list[CloudEvent]], bool],
                      timeout: float = 30.0) -> list[CloudEvent]:
    """Every ITSM event of this tenant on the real broker, until `until(events)` holds (the relay publishes
    shortly after each commit, and each change's events are on the partition of its key)."""
    consumer = AIOKafkaConsumer(topics.ITSM_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    seen: list[CloudEvent] = []
    try:
        deadline = time.monotonic() + timeout
        while not until(seen) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for msg in records:
                    event = CloudEvent.from_kafka(msg.headers, msg.value)
                    if event.tenant_id == tenant_id:
                        seen.append(event)
    finally:
        await consumer.stop()
    return seen


def codes(resp: api.Response) -> tuple[int, str, set[str]]:
    return resp.status, resp.body.get("code", ""), {f["field"] for f in resp.body.get("fields", [])}


async def test_changes_conflicts_approvals_and_events(stack_factory, kafka_bootstrap):
    stack = stack_factory()
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_base, control_base)
        others = await api.tenant(session, tenant_base, control_base)
        admin, responder, viewer = users["admin"], users["responder"], users["viewer"]
        # the real CMDB, through its routes: orders-api depends_on orders-db
        db = await create_ci(admin, "orders-db", "database")
        svc = await create_ci(admin, "orders-api", "service")
        lone = await create_ci(admin, "build-agent", "server")
        await relate(admin, svc, db, "depends_on")

        # create (seed 002 shape) and read back by id and by reference
        first = await responder.post("/api/itsm/changes", json=change_body("Upgrade orders-db", [db]))
        assert first.status == 201, first.body
        c1 = first.data
        assert (c1["reference"], c1["status"], c1["requested_by"]) == ("CHG-00000001", "new", responder.email)
        assert c1["has_conflicts"] is False and c1["conflict_check"] == "complete"
        assert (await viewer.get("/api/itsm/changes/CHG-00000001")).data["id"] == c1["id"]

        # the documented 4xx
        assert codes(await responder.post("/api/itsm/changes", json=change_body("x", [db], hours=-1))) == (
            422, "VALIDATION_ERROR", {"requested_end"})
        assert codes(await responder.post("/api/itsm/changes", json={**change_body("x", []), "colour": "red"})) == (
            422, "VALIDATION_ERROR", {"colour"})
        assert codes(await responder.post("/api/itsm/changes", json={**change_body("x", []), "type": "quick"}))[:2] == (
            422, "VALIDATION_ERROR")
        assert codes(await responder.post("/api/itsm/changes", json=change_body("x", [db, "ci-ghost"]))) == (
            422, "VALIDATION_ERROR", {"ci_ids[1]"})
        assert (await viewer.post("/api/itsm/changes", json=change_body("x", [db]))).status == 403
        assert codes(await viewer.get("/api/itsm/changes?status=granted")) == (422, "VALIDATION_ERROR", {"status"})
        assert codes(await viewer.get("/api/itsm/changes?from=yesterday")) == (422, "VALIDATION_ERROR", {"from"})
        assert codes(await viewer.get("/api/itsm/changes?colour=red")) == (422, "VALIDATION_ERROR", {"colour"})
        assert (await viewer.get("/api/itsm/changes/CHG-00000099")).status == 404
        assert codes(await viewer.get("/api/itsm/changes/not-an-id"))[:2] == (422, "VALIDATION_ERROR")

        # overlapping on the same CI: accepted, flagged
        second = (await responder.post("/api/itsm/changes", json=change_body("Tune orders-db", [db], start=2))).data
        assert [(x["kind"], x["change_reference"]) for x in second["conflicts"]] == [("same_ci", "CHG-00000001")]
        # overlapping on a CI that depends on it in the CMDB (orders-api depends_on orders-db)
        third = (await responder.post("/api/itsm/changes", json=change_body("Deploy orders-api", [svc],
                                                                            start=3))).data
        kinds = {(x["kind"], x["change_reference"], x["related_ci_id"]) for x in third["conflicts"]}
        assert kinds == {("dependent_ci", "CHG-00000001", db), ("dependent_ci", "CHG-00000002", db)}
        assert all(x["path"] in ([svc, db],) for x in third["conflicts"])
        # unrelated CI in the same window: no conflict
        fourth = (await responder.post("/api/itsm/changes", json=change_body("Patch agent", [lone], start=1))).data
        assert fourth["conflicts"] == []
        flagged = (await viewer.get("/api/itsm/changes?conflicting=true&sort=reference&order=asc")).data
        assert [c["reference"] for c in flagged["items"]] == ["CHG-00000001", "CHG-00000002", "CHG-00000003"]
        # the earliest change carries both clashes from its side
        mirrored = (await viewer.get("/api/itsm/changes/CHG-00000001")).data
        assert {(x["kind"], x["change_reference"]) for x in mirrored["conflicts"]} == {
            ("same_ci", "CHG-00000002"), ("dependent_ci", "CHG-00000003")}

        # the state machine and approvals
        ref = c1["reference"]
        bad = await responder.patch(f"/api/itsm/changes/{ref}", json={"status": "scheduled"})
        assert codes(bad)[:2] == (400, "INVALID_TRANSITION")
        for status in ("assess", "authorize"):
            moved = await responder.patch(f"/api/itsm/changes/{ref}", json={"status": status})
            assert moved.status == 200 and moved.data["status"] == status
        assert moved.data["approval_status"] == "pending"
        stale = await responder.patch(f"/api/itsm/changes/{ref}", json={"title": "y"}, headers={"If-Match": '"2"'})
        assert stale.status == 409
        frozen = await responder.patch(f"/api/itsm/changes/{ref}", json={"title": "y"})
        assert codes(frozen)[:2] == (400, "INVALID_TRANSITION")
        own = await responder.post(f"/api/itsm/changes/{ref}/approvals", json={"decision": "approve"})
        assert own.status == 403 and own.body["code"] == "FORBIDDEN"
        assert (await viewer.post(f"/api/itsm/changes/{ref}/approvals", json={"decision": "approve"})).status == 403
        assert codes(await admin.post(f"/api/itsm/changes/{ref}/approvals", json={"decision": "perhaps"}))[:2] == (
            422, "VALIDATION_ERROR")
        assert (await viewer.get("/api/itsm/changes?status=approved")).data["total"] == 0
        approved = await admin.post(f"/api/itsm/changes/{ref}/approvals", json={"decision": "approve",
                                                                                "comment": "CAB ok"})
        assert approved.status == 200 and approved.data["status"] == "scheduled"
        listed = (await viewer.get("/api/itsm/changes?status=approved")).data
        assert [c["reference"] for c in listed["items"]] == [ref]
        assert approved.data["approvals"][0]["approver"] == admin.email
        for body in ({"status": "implement"}, {"status": "review", "outcome": "successful"}, {"status": "closed"}):
            assert (await responder.patch(f"/api/itsm/changes/{ref}", json=body)).status == 200
        # once it is implemented, the others no longer clash with it
        second_now = (await viewer.get("/api/itsm/changes/CHG-00000002")).data
        assert [x["change_reference"] for x in second_now["conflicts"]] == ["CHG-00000003"]

        # emergency: skips assess and scheduling, recorded
        em = (await responder.post("/api/itsm/changes", json=change_body("Hotfix", [lone], start=30,
                                                                         type="emergency"))).data
        await responder.patch(f"/api/itsm/changes/{em['id']}", json={"status": "authorize"})
        em = (await admin.post(f"/api/itsm/changes/{em['id']}/approvals", json={"decision": "approve"})).data
        assert em["status"] == "implement" and em["skipped_stages"] == ["assess", "scheduled"]
        # standard: pre-approved
        std = (await responder.post("/api/itsm/changes", json=change_body("Rotate certs", [lone], start=40,
                                                                          type="standard"))).data
        assert (std["status"], std["approval_status"]) == ("scheduled", "pre_approved")

        # "what changed on these CIs in this window", and the changes shown on a CI
        window = await viewer.get(f"/api/itsm/changes?ci_id={db}&from={at(5)}&to={at(6)}&sort=reference&order=asc")
        assert [c["reference"] for c in window.data["items"]] == ["CHG-00000002"]
        on_ci = (await viewer.get(f"/api/cmdb/items/{db}/changes?sort=reference&order=asc")).data
        assert [c["reference"] for c in on_ci["items"]] == ["CHG-00000001", "CHG-00000002"]
        closed_on_ci = (await viewer.get(f"/api/cmdb/items/{db}/changes?status=closed")).data
        assert [c["reference"] for c in closed_on_ci["items"]] == ["CHG-00000001"]

        # tenancy: another tenant's change and CI are not found
        stranger = others["admin"]
        assert (await stranger.get(f"/api/itsm/changes/{c1['id']}")).status == 404
        assert (await stranger.get(f"/api/cmdb/items/{db}/changes")).status == 404
        assert (await stranger.get("/api/itsm/changes")).data["total"] == 0
        assert (await stranger.post(f"/api/itsm/changes/{c1['id']}/approvals",
                                    json={"decision": "reject"})).status == 404

    def all_there(events: list[CloudEvent]) -> bool:
        return (sum(e.subject == "CHG-00000001" for e in events) >= 10
                and {e.subject for e in events if e.type == "change.conflict_detected"} >= {
                    "CHG-00000001", "CHG-00000002", "CHG-00000003"})

    events = await read_events(kafka_bootstrap, admin.tenant_id, all_there)
    of_first = [e for e in events if e.subject == "CHG-00000001"]
    assert [e.type for e in of_first] == [
        "change.created", "change.conflict_detected", "change.conflict_detected", "change.transitioned",
        "change.transitioned", "change.approval_recorded", "change.approved", "change.transitioned",
        "change.transitioned", "change.transitioned"]
    payload = itsm_pb2.ChangeEvent.FromString(of_first[6].data)
    assert (payload.from_status, payload.to_status, payload.change.id) == ("authorize", "scheduled", c1["id"])
    assert payload.approval.approver == admin.email and payload.envelope.tenant_id == admin.tenant_id
    assert {e.subject for e in events if e.type == "change.conflict_detected"} == {
        "CHG-00000001", "CHG-00000002", "CHG-00000003"}


async def test_catalog_requests_and_blackouts(stack_factory, kafka_bootstrap):
    stack = stack_factory()
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_base, control_base)
        admin, responder, viewer = users["admin"], users["responder"], users["viewer"]
        stranger = (await api.tenant(session, tenant_base, control_base, roles=("admin",)))["admin"]

        # catalog: admin writes, everyone reads
        assert (await responder.post("/api/itsm/catalog", json={"name": "Laptop"})).status == 403
        laptop = await admin.post("/api/itsm/catalog", json={"name": "Laptop", "category": "hardware",
                                                             "requires_approval": True})
        assert laptop.status == 201
        laptop = laptop.data
        vpn = (await admin.post("/api/itsm/catalog", json={"name": "VPN access", "requires_approval": False})).data
        assert (await admin.post("/api/itsm/catalog", json={"name": "Laptop"})).status == 409
        assert (await viewer.get("/api/itsm/catalog?category=hardware")).data["total"] == 1
        assert (await stranger.get(f"/api/itsm/catalog/{laptop['id']}")).status == 404

        # service requests: seed 002 shape
        req = await responder.post("/api/itsm/requests", json={"catalog_item_id": laptop["id"],
                                                               "requested_by": "user@example.com"})
        assert req.status == 201, req.body
        req = req.data
        assert (req["reference"], req["status"], req["requested_by"]) == ("REQ-00000001", "pending_approval",
                                                                          "user@example.com")
        auto = (await responder.post("/api/itsm/requests", json={"catalog_item_id": vpn["id"]})).data
        assert auto["status"] == "approved"
        assert codes(await responder.post("/api/itsm/requests", json={"catalog_item_id": "item-001"})) == (
            422, "VALIDATION_ERROR", {"catalog_item_id"})
        assert codes(await responder.post("/api/itsm/requests",
                                          json={"catalog_item_id": laptop["id"], "extra": 1})) == (
            422, "VALIDATION_ERROR", {"extra"})
        assert codes(await stranger.post("/api/itsm/requests", json={"catalog_item_id": laptop["id"]})) == (
            422, "VALIDATION_ERROR", {"catalog_item_id"})
        pending = (await viewer.get("/api/itsm/requests?status=pending_approval")).data
        assert [r["id"] for r in pending["items"]] == [req["id"]] and pending["total"] == 1
        assert codes(await viewer.get("/api/itsm/requests?status=waiting"))[:2] == (422, "VALIDATION_ERROR")
        early = await responder.patch(f"/api/itsm/requests/{req['id']}", json={"status": "fulfilled"})
        assert codes(early)[:2] == (400, "INVALID_TRANSITION")
        own = await responder.post(f"/api/itsm/requests/{req['reference']}/approvals", json={"decision": "approve"})
        assert own.status == 403  # the submitter does not approve their own request
        ok = await admin.post(f"/api/itsm/requests/{req['reference']}/approvals", json={"decision": "approve"})
        assert ok.status == 200 and ok.data["status"] == "approved"
        done = await admin.patch(f"/api/itsm/requests/{req['id']}", json={"status": "fulfilled", "note": "shipped"})
        assert done.status == 200 and done.data["fulfilled_by"] == admin.email
        assert (await stranger.get(f"/api/itsm/requests/{req['id']}")).status == 404
        # retiring an item stops new requests, keeps the old ones readable
        assert (await admin.delete(f"/api/itsm/catalog/{vpn['id']}")).data["active"] is False
        retired = await responder.post("/api/itsm/requests", json={"catalog_item_id": vpn["id"]})
        assert codes(retired) == (422, "VALIDATION_ERROR", {"catalog_item_id"})
        assert (await viewer.get(f"/api/itsm/requests/{auto['id']}")).data["catalog_item_name"] == "VPN access"

        # blackouts: admin only; a change in one is flagged
        assert (await responder.post("/api/itsm/blackouts", json={"name": "freeze", "start": at(0),
                                                                  "end": at(48)})).status == 403
        assert codes(await admin.post("/api/itsm/blackouts", json={"name": "freeze", "start": at(2),
                                                                   "end": at(1)})) == (422, "VALIDATION_ERROR", {"end"})
        freeze = (await admin.post("/api/itsm/blackouts", json={"name": "quarter-end", "start": at(0),
                                                                "end": at(48)})).data
        change = (await responder.post("/api/itsm/changes", json=change_body("During freeze", [], start=10))).data
        assert [(x["kind"], x["blackout_id"]) for x in change["conflicts"]] == [("blackout", freeze["id"])]
        moved = (await admin.patch(f"/api/itsm/blackouts/{freeze['id']}", json={"end": at(5)})).data
        assert moved["end"].startswith(at(5)[:19])
        rechecked = (await responder.post(f"/api/itsm/changes/{change['id']}/conflict-check")).data
        assert rechecked["conflicts"] == []
        assert (await viewer.get(f"/api/itsm/blackouts?from={at(1)}")).data["total"] == 1
        assert (await stranger.delete(f"/api/itsm/blackouts/{freeze['id']}")).status == 404
        assert (await admin.delete(f"/api/itsm/blackouts/{freeze['id']}")).status == 200
        assert (await viewer.get(f"/api/itsm/blackouts/{freeze['id']}")).status == 404

    events = await read_events(kafka_bootstrap, admin.tenant_id,
                               lambda events: sum(e.subject == "REQ-00000001" for e in events) >= 3)
    of_req = [e for e in events if e.subject == "REQ-00000001"]
    assert [e.type for e in of_req] == ["request.submitted", "request.approved", "request.fulfilled"]
    payload = itsm_pb2.RequestEvent.FromString(of_req[-1].data)
    assert payload.request.status == "fulfilled" and payload.from_status == "approved"


async def test_change_accepted_when_cmdb_is_down(stack_factory):
    stack = stack_factory()
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        responder = (await api.tenant(session, tenant_base, control_base, roles=("responder",)))["responder"]
        unknown = await responder.post("/api/itsm/changes", json=change_body("A", ["ci-1"]))
        assert codes(unknown) == (422, "VALIDATION_ERROR", {"ci_ids[0]"})  # the CMDB is up and knows no ci-1
        await asyncio.to_thread(stack.stop_process, "cmdb")
        first = await responder.post("/api/itsm/changes", json=change_body("B", ["ci-1"]))
        second = await responder.post("/api/itsm/changes", json=change_body("C", ["ci-1"], start=1))
        assert (first.status, second.status) == (201, 201), second.body
        assert second.data["conflict_check"] == "incomplete"
        assert "CMDB unavailable" in second.data["conflict_check_note"]
        assert [x["kind"] for x in second.data["conflicts"]] == ["same_ci"]
        on_ci = await responder.get("/api/cmdb/items/ci-1/changes")
        assert on_ci.status == 200 and on_ci.data["total"] == 2



async def test_changes_created_at_the_same_moment_flag_each_other(stack_factory, stack_database_env):
    stack = stack_factory(env=stack_database_env)
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        users = await api.tenant(session, tenant_base, control_base)
        admin, responder = users["admin"], users["responder"]
        db = await create_ci(admin, "orders-db", "database")
        pair = await asyncio.gather(*(responder.post("/api/itsm/changes", json=change_body(f"pair {i}", [db], start=i))
                                      for i in range(2)))
        # one after the other, whatever the timing: the second to commit sees the first, and flags it too
        assert sorted(r.data["has_conflicts"] for r in pair) == [False, True]
        pair_now = [(await responder.get(f"/api/itsm/changes/{r.data['id']}")).data for r in pair]
        assert [c["has_conflicts"] for c in pair_now] == [True, True]

        # twenty at once on one CI, and a blackout written among them
        other = await create_ci(admin, "orders-cache", "cache")
        created, freeze = await asyncio.gather(
            asyncio.gather(*(responder.post("/api/itsm/changes", json=change_body(f"c{i}", [other], start=20 + i / 10))
                             for i in range(20))),
            admin.post("/api/itsm/blackouts", json={"name": "freeze", "start": at(19), "end": at(30),
                                                    "ci_ids": [other]}))
        assert all(r.status == 201 for r in created) and freeze.status == 201
        ids = {r.data["id"] for r in created}
        total = 0
        for change_id in ids:
            change = (await responder.get(f"/api/itsm/changes/{change_id}")).data
            assert {x["change_id"] for x in change["conflicts"] if x["change_id"]} == ids - {change_id}
            assert [x["blackout_id"] for x in change["conflicts"] if x["kind"] == "blackout"] == [freeze.data["id"]]
            total += sum(1 for x in change["conflicts"] if x["change_id"])
        assert total == 380
