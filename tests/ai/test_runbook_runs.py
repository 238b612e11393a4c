"""Runbook runs on a whole stack of real processes: approvals by another person with the role, rejection, a
blackout refusing a run, an active change requiring approval, dry runs that perform nothing, concurrent
approvals acting once, the runbook_run.* events on Kafka, and restarts of the ai process (blocked runs resume
where they stopped; a step interrupted by a kill is flagged, never re-run without a person)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from google.protobuf import json_format

from tests.ai.conftest import eventually
from tests.support import api
from vigil.ai.v1 import ai_pb2
from vigil.runtime import topics
from vigil.runtime.cloudevents import CloudEvent

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


def content(steps: list[dict], parameters: list[dict] | None = None, name: str = "restart api") -> ai_pb2.RunbookContent:
    return json_format.ParseDict({"name": name, "parameters": parameters or [], "steps": steps},
                                 ai_pb2.RunbookContent())


def params(values: dict) -> dict:
    out = ai_pb2.ExecuteRunbookRequest()
    out.parameters.update(values)
    return {"parameters": out.parameters}


async def setup_incident(users) -> tuple[str, dict]:
    admin = users["admin"]
    ci = (await admin.post("/api/cmdb/items", {"name": "api", "class": "service"})).data
    incident = (await admin.post("/api/incidents", {"title": "api down", "severity": "P2",
                                                    "ci_ids": [ci["id"]]})).data
    return ci["id"], incident


async def publish(ai_stack, users, steps, parameters=None) -> str:
    async with ai_stack.ai(users["admin"]) as ai:
        made = await ai.CreateRunbook(ai_pb2.CreateRunbookRequest(content=content(steps, parameters),
                                                                  status="published"))
    return made.runbook.id


def http_step(automation, path="/restart", **extra) -> dict:
    return {"id": "call", "name": "restart", "kind": "http", "config": {
        "method": "POST", "url": automation.url + path + "/{{ params.target }}", "timeout_seconds": 5,
        "body": {"incident": "{{ incident.reference }}", "replicas": "{{ params.replicas }}"}, **extra}}


PARAMS = [{"name": "target", "type": "string", "required": True}, {"name": "replicas", "type": "integer",
                                                                    "default": 2}]


async def run_of(ai_stack, client, run_id) -> ai_pb2.RunbookRun:
    async with ai_stack.ai(client) as ai:
        return (await ai.GetRunbookRun(ai_pb2.GetRunbookRunRequest(id=run_id))).run


async def wait_status(ai_stack, client, run_id, status, timeout=30.0) -> ai_pb2.RunbookRun:
    async def probe():
        run = await run_of(ai_stack, client, run_id)
        return run if run.status == status else None
    return await eventually(probe, timeout)


async def decide(ai_stack, client, run_id, decision, comment=""):
    async with ai_stack.ai(client) as ai:
        return (await ai.DecideRunbookStep(ai_pb2.DecideRunbookStepRequest(run_id=run_id, decision=decision,
                                                                           comment=comment))).run


def calls(automation, marker: str) -> list[dict]:
    return [body for path, body in automation.requests if marker in path]


async def run_events(kafka_bootstrap: str, run_id: str, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(topics.AI_EVENTS, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    found: dict[str, str] = {}  # by CloudEvent id, as a consumer sees them (a relay may re-send after a kill)
    try:
        async def probe():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.key and r.key.decode() == run_id:
                        event = CloudEvent.from_kafka(r.headers, r.value)
                        found.setdefault(event.id, event.type)
            return len(found) >= expected
        await eventually(probe, 30)
    finally:
        await consumer.stop()
    return list(found.values())


async def test_an_approved_run_acts_once_and_completes(ai_stack, users, automation, kafka_bootstrap):
    _, incident = await setup_incident(users)
    rb = await publish(ai_stack, users, [
        {"id": "check", "name": "check the dashboards", "kind": "manual"},
        {"id": "ok", "name": "approve the restart", "kind": "approval", "config": {"role": "responder"}},
        http_step(automation, "/approved"),
        {"id": "note", "name": "note", "kind": "vigil", "config": {
            "action": "incident.note", "message": "restarted {{ params.target }}: {{ steps.call.status }}"}}],
        PARAMS)
    starter = users["responder"]
    async with ai_stack.ai(starter) as ai:
        run = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["reference"], **params({"target": "api-1"})))).run
    assert run.status == "IN_PROGRESS" and run.preflight.decision == "allowed"
    run = await wait_status(ai_stack, starter, run.id, "BLOCKED")
    assert run.steps[0].status == "waiting"
    run = await decide(ai_stack, starter, run.id, "confirm")  # the starter may confirm a manual step
    run = await wait_status(ai_stack, starter, run.id, "BLOCKED")
    assert run.current_step_index == 1
    for who, code in ((starter, grpc.StatusCode.PERMISSION_DENIED), (users["viewer"], grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await decide(ai_stack, who, run.id, "approve")
        assert err.value.code() == code
    assert calls(automation, "/approved") == []  # nothing acted before the approval
    await decide(ai_stack, users["responder2"], run.id, "approve", "go")
    run = await wait_status(ai_stack, starter, run.id, "COMPLETED")
    (call,) = calls(automation, "/approved/api-1")
    assert call["incident"] == incident["reference"] and call["replicas"] == 2
    assert call["_headers"]["Idempotency-Key"] == f"{run.id}:call:1"
    assert [s.status for s in run.steps] == ["completed"] * 4
    assert run.steps[1].decided_by == users["responder2"].email
    timeline = (await starter.get(f"/api/incidents/{incident['id']}/timeline")).data["items"]
    assert any(e["kind"] == "note" and e["message"] == "restarted api-1: 200" for e in timeline)
    types = await run_events(kafka_bootstrap, run.id, 8)
    assert types[0] == "runbook_run.started" and types[-1] == "runbook_run.completed"
    assert types.count("runbook_run.awaiting_approval") == 2 and types.count("runbook_run.step_completed") == 4


async def test_concurrent_approvals_act_once_and_a_rejection_stops_the_run(ai_stack, users, automation):
    _, incident = await setup_incident(users)
    rb = await publish(ai_stack, users, [
        {"id": "ok", "name": "approve", "kind": "approval"}, http_step(automation, "/concurrent")], PARAMS)
    async with ai_stack.ai(users["responder"]) as ai:
        run = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["id"], **params({"target": "x"})))).run
    await wait_status(ai_stack, users["responder"], run.id, "BLOCKED")
    outcomes = await asyncio.gather(*(decide(ai_stack, c, run.id, "approve")
                                      for c in (users["responder2"], users["admin"]) * 3), return_exceptions=True)
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1
    assert all(o.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED)
               for o in outcomes if isinstance(o, BaseException))
    await wait_status(ai_stack, users["responder"], run.id, "COMPLETED")
    assert len(calls(automation, "/concurrent")) == 1

    async with ai_stack.ai(users["responder"]) as ai:
        run = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["id"], **params({"target": "y"})))).run
    await wait_status(ai_stack, users["responder"], run.id, "BLOCKED")
    rejected = await decide(ai_stack, users["admin"], run.id, "reject", "not during peak")
    assert rejected.status == "REJECTED" and rejected.steps[0].decision_comment == "not during peak"
    assert calls(automation, "/concurrent/y") == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await decide(ai_stack, users["admin"], run.id, "approve")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_blackouts_refuse_active_changes_require_approval_and_dry_runs_do_nothing(ai_stack, users, automation):
    ci, incident = await setup_incident(users)
    rb = await publish(ai_stack, users, [http_step(automation, "/preflight")], PARAMS)
    async with ai_stack.ai(users["responder"]) as ai:
        plan = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["id"], dry_run=True, **params({"target": "a b"})))).run
        assert plan.status == "DRY_RUN" and plan.preflight.decision == "allowed"
        rendered = json_format.MessageToDict(plan.steps[0].rendered)
        assert rendered["url"].endswith("/preflight/a%20b") and rendered["body"]["incident"] == incident["reference"]
        assert (await ai.ListRunbookRuns(ai_pb2.ListRunbookRunsRequest(runbook_id=rb))).page.total == 0

    start = datetime.now(UTC) - timedelta(minutes=5)
    change = (await users["responder"].post("/api/itsm/changes", {
        "title": "db upgrade", "type": "standard", "requested_start": start.isoformat(),
        "requested_end": (start + timedelta(hours=2)).isoformat(), "ci_ids": [ci]})).data
    await users["responder"].patch(f"/api/itsm/changes/{change['id']}", {"status": "implement"})
    async with ai_stack.ai(users["responder"]) as ai:
        run = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["id"], **params({"target": "b"})))).run
    assert run.preflight.decision == "approval_required"
    assert any(change["reference"] in r for r in run.preflight.reasons)
    assert run.steps[0].step_id == "preflight-approval"
    await wait_status(ai_stack, users["responder"], run.id, "BLOCKED")
    assert calls(automation, "/preflight/b") == []

    blackout = (await users["admin"].post("/api/itsm/blackouts", {
        "name": "quarter-end freeze", "start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat(),
        "ci_ids": [ci]})).data
    async with ai_stack.ai(users["responder"]) as ai:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
                runbook_id=rb, incident_id=incident["id"], **params({"target": "c"})))
        assert err.value.code() == grpc.StatusCode.ABORTED and "quarter-end freeze" in err.value.details()
        plan = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["id"], dry_run=True, **params({"target": "c"})))).run
    assert plan.preflight.decision == "refused" and plan.preflight.blackouts[0].id == blackout["id"]
    assert calls(automation, "/preflight/c") == []


async def test_a_blocked_run_resumes_after_a_restart(ai_stack, users, automation):
    _, incident = await setup_incident(users)
    rb = await publish(ai_stack, users, [
        http_step(automation, "/before"), {"id": "ok", "name": "approve", "kind": "approval"},
        {**http_step(automation, "/after"), "id": "call-2"}], PARAMS)
    async with ai_stack.ai(users["responder"]) as ai:
        run = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
            runbook_id=rb, incident_id=incident["id"], **params({"target": "r"})))).run
    await wait_status(ai_stack, users["responder"], run.id, "BLOCKED")
    assert len(calls(automation, "/before/r")) == 1
    await ai_stack.restart("ai")
    await decide(ai_stack, users["responder2"], run.id, "approve")
    done = await wait_status(ai_stack, users["responder"], run.id, "COMPLETED")
    assert len(calls(automation, "/before/r")) == 1 and len(calls(automation, "/after/r")) == 1
    assert [s.attempts for s in done.steps] == [1, 0, 1]


async def test_a_step_interrupted_by_a_kill_is_flagged_not_repeated(ai_stack, users, automation, kafka_bootstrap):
    _, incident = await setup_incident(users)
    slow_handler = automation.handler
    automation.handler = lambda path, body: (200, {"ok": True}, 3.0 if "/slow" in path else 0)
    try:
        rb = await publish(ai_stack, users, [http_step(automation, "/slow", timeout_seconds=5)], PARAMS)
        async with ai_stack.ai(users["responder"]) as ai:
            run = (await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(
                runbook_id=rb, incident_id=incident["id"], **params({"target": "k"})))).run

        async def running():
            r = await run_of(ai_stack, users["responder"], run.id)
            return r if r.steps[0].status == "running" else None
        await eventually(running, 20, every=0.05)
        await ai_stack.restart("ai", kill=True)
        flagged = await wait_status(ai_stack, users["responder"], run.id, "FLAGGED", timeout=60)
        assert flagged.steps[0].status == "interrupted" and "may or may not have acted" in flagged.steps[0].error
        first = len(calls(automation, "/slow/k"))
        assert first <= 1
        await asyncio.sleep(2)
        assert len(calls(automation, "/slow/k")) == first  # nothing re-ran it by itself
        await decide(ai_stack, users["responder"], run.id, "retry")
        done = await wait_status(ai_stack, users["responder"], run.id, "COMPLETED")
        assert done.steps[0].attempts == 2
        assert calls(automation, "/slow/k")[-1]["_headers"]["Idempotency-Key"] == f"{run.id}:call:2"
        assert await run_events(kafka_bootstrap, run.id, 5) == [
            "runbook_run.started", "runbook_run.flagged", "runbook_run.retried", "runbook_run.step_completed",
            "runbook_run.completed"]
    finally:
        automation.handler = slow_handler


async def test_library_rules_over_grpc(ai_stack, users, automation):
    async with ai_stack.ai(users["responder"]) as ai:
        draft = (await ai.CreateRunbook(ai_pb2.CreateRunbookRequest(content=content(
            [http_step(automation)], PARAMS)))).runbook
        assert (draft.status, draft.version) == ("draft", 1)
        with pytest.raises(grpc.aio.AioRpcError) as err:  # only a published runbook runs
            await ai.ExecuteRunbook(ai_pb2.ExecuteRunbookRequest(runbook_id=draft.id, **params({"target": "z"})))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.aio.AioRpcError) as err:  # publishing needs an admin
            await ai.UpdateRunbook(ai_pb2.UpdateRunbookRequest(id=draft.id, update_mask=["status"],
                                                               status="published"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        edited = (await ai.UpdateRunbook(ai_pb2.UpdateRunbookRequest(
            id=draft.id, update_mask=["name"], content=ai_pb2.RunbookContent(name="renamed"),
            expected_version=1))).runbook
        assert (edited.name, edited.version) == ("renamed", 2)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.UpdateRunbook(ai_pb2.UpdateRunbookRequest(
                id=draft.id, update_mask=["name"], content=ai_pb2.RunbookContent(name="stale"), expected_version=1))
        assert err.value.code() == grpc.StatusCode.ABORTED
        old = (await ai.GetRunbook(ai_pb2.GetRunbookRequest(id=draft.id, version=1))).runbook
        assert old.name == "restart api" and old.version == 1
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.CreateRunbook(ai_pb2.CreateRunbookRequest(content=content([
                {"name": "x", "kind": "http", "config": {"url": "gopher://x"}}])))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with ai_stack.ai(users["viewer"]) as ai:
        listed = await ai.ListRunbooks(ai_pb2.ListRunbooksRequest(q="renamed"))
        assert [r.id for r in listed.items] == [draft.id]
    foreign = await api.tenant(users["admin"].session, ai_stack.tenant_base, ai_stack.control_base)
    async with ai_stack.ai(foreign["admin"]) as ai:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.GetRunbook(ai_pb2.GetRunbookRequest(id=draft.id))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
