"""Root-cause analysis as a service on a real stack: automatic analyses of new incidents at the severities a
tenant chose (rca.completed lands on the incident's timeline), a quiet neighbourhood names no cause, results are
stored and listed per incident, feedback is kept (one verdict per person) and counted, settings are an admin's,
and nothing crosses tenants."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.ai.conftest import eventually
from tests.ai.test_llm import seed
from tests.support import api
from vigil.ai.v1 import ai_pb2

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.clickhouse]


@pytest.fixture(autouse=True)
def no_model(llm_server):
    llm_server.handler = lambda path, body: (500, {"error": {"message": "not in these tests"}}, 0)


async def test_automatic_analysis_by_severity_lands_on_the_timeline(ai_stack, users):
    world = await seed(users)
    async with ai_stack.ai(users["responder"]) as ai:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.UpdateSettings(ai_pb2.UpdateSettingsRequest(update_mask=["auto_rca_severities"],
                                                                 settings=ai_pb2.AiSettings(auto_rca_severities=["P1"])))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with ai_stack.ai(users["admin"]) as ai:
        assert list((await ai.GetSettings(ai_pb2.GetSettingsRequest())).settings.auto_rca_severities) == []
        made = (await ai.UpdateSettings(ai_pb2.UpdateSettingsRequest(
            update_mask=["auto_rca_severities"], settings=ai_pb2.AiSettings(auto_rca_severities=["P1", "P2"]),
            expected_version=0))).settings
        assert (list(made.auto_rca_severities), made.version) == (["P1", "P2"], 1)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.UpdateSettings(ai_pb2.UpdateSettingsRequest(update_mask=["auto_rca_severities"],
                                                                 settings=ai_pb2.AiSettings(auto_rca_severities=["P9"])))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.UpdateSettings(ai_pb2.UpdateSettingsRequest(update_mask=["llm_enabled"], expected_version=7))
        assert err.value.code() == grpc.StatusCode.ABORTED
    web = world["refs"]["web"]
    p1 = (await users["responder"].post("/api/incidents", {"title": "web down", "severity": "P1",
                                                           "ci_ids": [web]})).data
    p3 = (await users["responder"].post("/api/incidents", {"title": "web meh", "severity": "P3",
                                                           "ci_ids": [web]})).data

    async def analysed():
        async with ai_stack.ai(users["viewer"]) as ai:
            found = await ai.ListRcas(ai_pb2.ListRcasRequest(incident_id=p1["reference"]))
        return found.items[0] if found.items and found.items[0].status == "completed" else None
    result = await eventually(analysed, 60)
    assert (result.trigger, result.requested_by, result.causes[0].ci_name) == ("auto", "vigil-ai", "db")

    async def on_timeline():
        entries = (await users["viewer"].get(f"/api/incidents/{p1['id']}/timeline")).data["items"]
        return [e for e in entries if e["kind"] == "rca"]
    (entry,) = await eventually(on_timeline, 30)
    assert entry["changes"]["rca_id"] == result.id and "db" in entry["message"]
    await asyncio.sleep(1)
    async with ai_stack.ai(users["viewer"]) as ai:
        assert (await ai.ListRcas(ai_pb2.ListRcasRequest(incident_id=p3["id"]))).page.total == 0


async def test_a_quiet_neighbourhood_names_no_cause(ai_stack, users):
    admin = users["admin"]
    ci = (await admin.post("/api/cmdb/items", {"name": "calm", "class": "service"})).data
    now = int(time.time()) // 60 * 60
    metrics = [{"name": "latency_ms", "type": "gauge", "service": "calm", "value": 50 + (i % 7),
                "timestamp": now - i * 60} for i in range(1, 181)]
    await admin.post("/api/metrics", {"metrics": metrics})
    incident = (await admin.post("/api/incidents", {"title": "customer says slow", "severity": "P3",
                                                    "ci_ids": [ci["id"]]})).data

    async def ingested():
        got = await admin.get("/api/metrics/query", params={"metric_name": "latency_ms", "service": "calm",
                                                            "start": now - 4 * 3600, "end": now, "step": "5m"})
        return got.status == 200 and got.data["series"] and len(got.data["series"][0]["points"]) > 30
    await eventually(ingested, 60)
    async with ai_stack.ai(users["responder"]) as ai:
        result = (await ai.RunRca(ai_pb2.RunRcaRequest(incident_id=incident["id"]))).result
    assert result.outcome == "nothing_anomalous" and list(result.causes) == []
    assert "Nothing anomalous" in result.summary and result.candidates_considered == 1


async def test_feedback_is_kept_and_counted_and_windows_are_checked(ai_stack, users):
    world = await seed(users)
    async with ai_stack.ai(users["responder"]) as ai:
        result = (await ai.RunRca(ai_pb2.RunRcaRequest(incident_id=world["incident"]["id"]))).result
        first = await ai.RecordRcaFeedback(ai_pb2.RecordRcaFeedbackRequest(rca_id=result.id, verdict="incorrect",
                                                                          actual_cause="the cache"))
        assert (first.summary.correct, first.summary.incorrect) == (0, 1)
        again = await ai.RecordRcaFeedback(ai_pb2.RecordRcaFeedbackRequest(rca_id=result.id, verdict="correct"))
        assert (again.summary.correct, again.summary.incorrect) == (1, 0)  # one verdict per person
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.RecordRcaFeedback(ai_pb2.RecordRcaFeedbackRequest(rca_id=result.id, verdict="maybe"))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        start = Timestamp()
        start.FromDatetime(datetime.now(UTC))
        end = Timestamp()
        end.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ai.RunRca(ai_pb2.RunRcaRequest(incident_id=world["incident"]["id"],
                                                 window=ai_pb2.TimeWindow(start=start, end=end)))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "window.end" in str(err.value.trailing_metadata())
    async with ai_stack.ai(users["admin"]) as ai:
        await asyncio.gather(*(ai.RecordRcaFeedback(ai_pb2.RecordRcaFeedbackRequest(
            rca_id=result.id, verdict="incorrect", actual_cause_ci_id=world["refs"]["api"])) for _ in range(5)))
        stored = (await ai.GetRca(ai_pb2.GetRcaRequest(id=result.id))).result
        assert (stored.feedback.correct, stored.feedback.incorrect) == (1, 1)
        summary = await ai.GetRcaFeedbackSummary(ai_pb2.GetRcaFeedbackSummaryRequest())
        assert (summary.analyses, summary.with_feedback, summary.correct, summary.incorrect) == (1, 1, 1, 1)
        assert summary.accuracy == 0.5 and summary.by_hypothesis["latency_degradation"].incorrect == 1
    foreign = await api.tenant(users["admin"].session, ai_stack.tenant_base, ai_stack.control_base)
    async with ai_stack.ai(foreign["admin"]) as ai:
        for call in (ai.GetRca(ai_pb2.GetRcaRequest(id=result.id)),
                     ai.RunRca(ai_pb2.RunRcaRequest(incident_id=world["incident"]["id"])),
                     ai.RecordRcaFeedback(ai_pb2.RecordRcaFeedbackRequest(rca_id=result.id, verdict="correct"))):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
