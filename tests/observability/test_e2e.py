"""Telemetry end to end through real processes: the OpenTelemetry SDK's OTLP/HTTP exporters and JSON batches into
the gateway, real Kafka, the observability service's consumer into chDB, and back out through the query API."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.conftest import urls
from tests.support import api

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.clickhouse]

FAST = {"VIGIL_TELEMETRY_BATCH_SECONDS": "0.2"}


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 40.0) -> Any:
    """Poll until check() returns something truthy (the pipeline is asynchronous by design)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns / 1e9)) + "Z"


def ship_with_otel_sdk(base: str, client: api.TenantClient, service: str) -> dict[str, str]:
    """Use the real SDK + OTLP/HTTP exporters, configured as any user would, pointed at the gateway."""
    headers = {"Authorization": f"Bearer {client.token}", "x-tenant-id": client.tenant_id}
    resource = Resource.create({"service.name": service, "deployment.environment": "test"})

    traces = TracerProvider(resource=resource)
    # gzip, as the Collector sends by default
    traces.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers,
                                                                   compression=Compression.Gzip)))
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs",
                                                                           headers=headers)))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers),
                                           export_interval_millis=3_600_000)
    meters = MeterProvider(resource=resource, metric_readers=[reader])

    logger = logging.getLogger(f"test.{service}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LoggingHandler(logger_provider=logs))
    tracer = traces.get_tracer("checkout-test")
    meter = meters.get_meter("checkout-test")
    requests = meter.create_counter("http_requests_total")
    latency = meter.create_histogram("http_request_duration_ms", unit="ms")

    with tracer.start_as_current_span("POST /checkout") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("SELECT orders") as db:
            db.set_attribute("db.system", "postgresql")
            db.set_status(Status(StatusCode.ERROR, "connection pool exhausted"))
            logger.error("payment declined for order 4711 after 3 attempts")
        logger.info("checkout finished")
        time.sleep(0.02)
    for i in range(20):
        requests.add(1, {"route": "/checkout", "code": "500" if i % 4 == 0 else "200"})
        latency.record(5 + i * 10, {"route": "/checkout"})
    assert meters.force_flush(10_000)
    for _ in range(20):
        requests.add(2, {"route": "/checkout", "code": "200"})
        latency.record(900, {"route": "/checkout"})
    assert meters.force_flush(10_000)
    logs.force_flush()
    traces.force_flush()
    meters.shutdown()
    logs.shutdown()
    traces.shutdown()
    return {"trace_id": trace_id}


async def test_otel_sdk_json_tenancy_injection(stack_factory):
    stack = stack_factory(FAST)
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        a = await api.tenant(session, tenant_base, control_base)
        b = await api.tenant(session, tenant_base, control_base)
        started = time.time_ns()
        shipped = await asyncio.to_thread(ship_with_otel_sdk, tenant_base, a["responder"], "checkout")
        trace_id = shipped["trace_id"]
        window = {"from": iso(started - 60 * 10**9), "to": iso(time.time_ns() + 60 * 10**9)}
        viewer = a["viewer"]

        # -- logs, shipped by the SDK's OTLP log exporter, with the trace id of the span they were written in
        async def error_logs():
            r = await viewer.get("/api/logs", params={"service": "checkout", "level": "error", **window})
            return r.data["items"]

        items = await eventually(error_logs)
        assert [i["body"] for i in items] == ["payment declined for order 4711 after 3 attempts"]
        assert items[0]["trace_id"] == trace_id and items[0]["level"] == "error"
        assert items[0]["resource"]["deployment.environment"] == "test"
        r = await viewer.get("/api/logs", params={"trace_id": trace_id, **window})
        assert {i["body"] for i in r.data["items"]} == {"payment declined for order 4711 after 3 attempts",
                                                        "checkout finished"}
        r = await viewer.get("/api/logs", params={"q": "DECLINED", **window})
        assert len(r.data["items"]) == 1

        # -- traces: the list with filters, and the whole tree
        async def error_traces():
            r = await viewer.get("/api/traces", params={"service": "checkout", "status": "error", **window})
            return r.data["items"]

        traces = await eventually(error_traces)
        assert traces[0]["trace_id"] == trace_id and traces[0]["root_name"] == "POST /checkout"
        assert traces[0]["span_count"] == 2 and traces[0]["error_count"] == 1
        r = await viewer.get("/api/traces", params={"service": "checkout", "min_duration": "10s", **window})
        assert r.data["items"] == []
        r = await viewer.get(f"/api/traces/{trace_id}")
        tree = r.data
        assert tree["span_count"] == 2 and len(tree["spans"]) == 1
        root = tree["spans"][0]
        assert root["name"] == "POST /checkout" and root["kind"] == "Internal"
        child = root["children"][0]
        assert child["name"] == "SELECT orders" and child["status"] == {"code": "Error",
                                                                          "message": "connection pool exhausted"}
        assert child["attributes"]["db.system"] == "postgresql"

        # -- metrics: counter rate grouped by label, histogram quantiles
        async def rate_by_code():
            r = await viewer.get("/api/metrics/query", params={
                "metric_name": "http_requests_total", "start": window["from"], "end": window["to"], "step": "60s",
                "aggregation": "rate", "by": "code", "label": "route=/checkout"})
            series = r.data["series"]
            total = sum(p["value"] for s in series for p in s["points"]) * 60
            return r.data if total >= 60 else None

        data = await eventually(rate_by_code)
        assert data["metric_type"] == "sum"
        by_code = {s["labels"]["code"]: sum(p["value"] for p in s["points"]) * 60 for s in data["series"]}
        # 20 requests (5 with code 500) then 20 x 2 more with code 200: increases over the window
        assert by_code == pytest.approx({"200": 55.0, "500": 5.0})
        r = await viewer.get("/api/metrics/query", params={
            "metric_name": "http_request_duration_ms", "start": window["from"], "end": window["to"], "step": "1m",
            "aggregation": "p99"})
        p99 = max(p["value"] for s in r.data["series"] for p in s["points"])
        assert 750 <= p99 <= 1000  # half the observations are 900 ms, in the (750, 1000] bucket
        r = await viewer.get("/api/metrics/query", params={
            "metric_name": "http_requests_total", "start": window["from"], "end": window["to"], "aggregation": "p99"})
        assert r.status == 422 and r.body["fields"][0]["field"] == "aggregation"

        # -- JSON batch ingest and cursor paging
        now = time.time_ns()
        logs = [{"timestamp": now - i * 1000, "service": "billing", "level": "warn", "body": f"slow call {i}",
                 "attributes": {"attempt": i}} for i in range(25)]
        r = await a["responder"].post("/api/logs", json={"logs": logs})
        assert r.status == 202 and r.data == {"accepted": 25}

        async def billing_count():
            r = await viewer.get("/api/logs", params={"service": "billing", "limit": 200, **window})
            return len(r.data["items"]) == 25

        await eventually(billing_count)
        seen: list[str] = []
        cursor = None
        while True:
            params = {"service": "billing", "limit": 7, **window, **({"cursor": cursor} if cursor else {})}
            page = (await viewer.get("/api/logs", params=params)).data
            seen.extend(i["body"] for i in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [f"slow call {i}" for i in range(25)]  # newest first, each once

        r = await viewer.post("/api/logs", json={"logs": logs[:1]})
        assert r.status == 403  # viewers never write

        # -- OTLP/JSON (hex ids, as the OTLP spec writes them) at the standard path
        otlp_trace = secrets.token_hex(16)
        r = await a["responder"].post("/v1/logs", json={"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "edge"}}]},
            "scopeLogs": [{"scope": {"name": "manual"}, "logRecords": [{
                "timeUnixNano": str(now), "severityNumber": 17, "body": {"stringValue": "upstream reset"},
                "traceId": otlp_trace, "spanId": secrets.token_hex(8),
                "attributes": [{"key": "retries", "value": {"intValue": "3"}}]}]}]}]})
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/json"), r.body

        async def otlp_json_log():
            r = await viewer.get("/api/logs", params={"trace_id": otlp_trace, **window})
            return r.data["items"]

        (record,) = await eventually(otlp_json_log)
        assert (record["service"], record["level"], record["body"], record["attributes"], record["scope"]) == (
            "edge", "error", "upstream reset", {"retries": "3"}, "manual")
        r = await a["responder"].post("/v1/logs", data=b"\x00garbage", headers={
            "Content-Type": "application/x-protobuf"})
        assert r.status == 422
        r = await a["responder"].post("/api/logs", json={"logs": [{"service": "x", "body": "b", "level": "loud",
                                                                   "extra": 1}]})
        assert r.status == 422
        assert {f["field"] for f in r.body["fields"]} == {"logs[0].extra", "logs[0].level"}

        # -- tenancy: tenant B sees nothing of tenant A, whatever it asks
        other = b["viewer"]
        for path, params in (("/api/logs", {"trace_id": trace_id, **window}),
                             ("/api/logs", {"service": "checkout", **window}),
                             ("/api/traces", {"service": "checkout", **window})):
            r = await other.get(path, params=params)
            assert r.data["items"] == [], path
        r = await other.get(f"/api/traces/{trace_id}")
        assert r.status == 404 and r.body["code"] == "NOT_FOUND"
        r = await other.get("/api/metrics/query", params={"metric_name": "http_requests_total", **{
            "start": window["from"], "end": window["to"]}, "aggregation": "rate"})
        assert r.data["series"] == []
        r = await other.get("/api/observability/anomalies", params=window)
        assert r.data["error_clusters"] == [] and r.data["error_operations"] == []

        # -- anomalies for the AI service: error-log clusters and failing operations
        r = await viewer.get("/api/observability/anomalies", params={"service": "checkout", **window})
        clusters = r.data["error_clusters"]
        assert clusters[0]["template"] == "payment declined for order <n> after <n> attempts"
        assert r.data["error_operations"][0]["operation"] == "SELECT orders"

        # -- SQL injection in every parameter: bound, never spliced; nothing leaks, nothing breaks
        evil = ["' OR 1=1 --", "checkout' OR TenantId != '", "x\\' OR \\'1\\'=\\'1", "1); DROP TABLE otel_logs; --",
                "%' UNION SELECT * FROM system.tables --", "{tenant:String}", "\u0000"]
        for bad in evil:
            for path, params in (
                ("/api/logs", {"service": bad, **window}), ("/api/logs", {"q": bad, **window}),
                ("/api/logs", {"level": bad, **window}), ("/api/logs", {"trace_id": bad, **window}),
                ("/api/logs", {"cursor": bad, **window}), ("/api/logs", {"from": bad}),
                ("/api/traces", {"service": bad, **window}), ("/api/traces", {"operation": bad, **window}),
                ("/api/traces", {"status": bad, **window}), ("/api/traces", {"min_duration": bad, **window}),
                ("/api/metrics/query", {"metric_name": bad, "start": window["from"], "end": window["to"]}),
                ("/api/metrics/query", {"metric_name": "http_requests_total", "by": bad, "start": window["from"],
                                        "end": window["to"]}),
                ("/api/metrics/query", {"metric_name": "http_requests_total", "label": f"route={bad}",
                                        "start": window["from"], "end": window["to"]}),
                ("/api/metrics/query", {"metric_name": "http_requests_total", "service": bad,
                                        "start": window["from"], "end": window["to"]}),
                ("/api/metrics/query", {"metric_name": "x", "aggregation": bad, "step": bad}),
                ("/api/observability/anomalies", {"service": bad, **window}),
            ):
                r = await other.get(path, params=params)
                assert r.status in (200, 422), (path, params, r.status, r.body)
                if r.status == 200 and "items" in r.data:
                    assert r.data["items"] == [], (path, params)
                if r.status == 200 and "series" in r.data:
                    assert r.data["series"] == [], (path, params)
        r = await other.get(f"/api/traces/{evil[0]}")
        assert r.status in (404, 422)
        r = await viewer.get("/api/logs", params={"trace_id": trace_id, **window})
        assert len(r.data["items"]) == 2  # the tables are intact

        # -- bad ranges, steps, windows and limits are 422s naming the field
        for params, field in (
            ({"from": "yesterday"}, "from"),
            ({"from": iso(now), "to": iso(now - 10**9)}, "to"),
            ({"from": "2020-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z"}, "to"),
            ({"limit": "5000", **window}, "limit"),
            ({"cursor": "bm90LWEtY3Vyc29y", **window}, "cursor"),
            ({"level": "loud", **window}, "level"),
            ({"nope": "1", **window}, "nope"),
        ):
            r = await viewer.get("/api/logs", params=params)
            assert r.status == 422 and r.body["code"] == "VALIDATION_ERROR", (params, r.body)
            assert field in {f["field"] for f in r.body["fields"]}, (params, r.body)
        for params, field in (({"step": "7s"}, "step"), ({"step": "soon"}, "step"), ({"step": "1s"}, "step"),
                              ({"metric_name": ""}, "metric_name"), ({"aggregation": "median"}, "aggregation"),
                              ({"label": "no-operator"}, "label")):
            base = {"metric_name": "http_requests_total", "start": window["from"], "end": window["to"]}
            r = await viewer.get("/api/metrics/query", params={**base, **params})
            assert r.status == 422 and field in {f["field"] for f in r.body["fields"]}, (params, r.body)


async def test_backpressure_then_catch_up_without_loss(stack_factory):
    """ClickHouse's consumer is away: ingest keeps accepting into Kafka up to the lag bound, then answers 429 with
    Retry-After; once the consumer is back, every accepted record is in ClickHouse."""
    stack = stack_factory({**FAST, "VIGIL_TELEMETRY_MAX_LAG_BATCHES": "5"})
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        clients = await api.tenant(session, tenant_base, control_base, roles=("responder",))
        writer = clients["responder"]
        stack.stop_process("observability")
        accepted = 0
        refused = None
        run = secrets.token_hex(4)
        for n in range(200):
            r = await writer.post("/api/logs", json={"logs": [
                {"service": "bp", "level": "info", "body": f"{run} record {n}-{i}"} for i in range(10)]})
            if r.status != 202:
                refused = r
                break
            accepted += 10
            await asyncio.sleep(0.05)  # the gateway samples the lag about once a second
        assert refused is not None, "ingest never pushed back"
        assert refused.status == 429 and refused.body["code"] == "RATE_LIMIT"
        assert int(refused.headers["Retry-After"]) >= 1
        assert accepted >= 50
        await asyncio.to_thread(stack.start_process, "observability")
        await asyncio.to_thread(stack.wait_healthy, ("observability",))

        async def all_there():
            seen = 0
            cursor = None
            while True:
                params = {"service": "bp", "q": run, "limit": 1000, "from": iso(time.time_ns() - 3600 * 10**9),
                          **({"cursor": cursor} if cursor else {})}
                r = await writer.get("/api/logs", params=params)
                if r.status != 200:
                    return False
                seen += len(r.data["items"])
                cursor = r.data["next_cursor"]
                if not cursor:
                    return seen == accepted

        await eventually(all_there, timeout=60)

        async def accepting_again():
            r = await writer.post("/api/logs", json={"logs": [{"service": "bp", "body": "after"}]})
            return r.status == 202

        await eventually(accepting_again, timeout=30)


async def test_vigil_ships_its_own_telemetry_into_itself(stack_factory):
    """VIGIL_SELF_TELEMETRY: the gateway and services export their own spans over OTLP into this same pipeline,
    as tenant `vigil`, so Vigil can be debugged with Vigil."""
    from vigil.runtime.kafka_local import free_port

    ports = {"tenant": free_port(), "control": free_port()}
    stack = stack_factory({**FAST, "VIGIL_SELF_TELEMETRY": "true", "VIGIL_SELF_TELEMETRY_TENANT": "vigil",
                           "VIGIL_SELF_TELEMETRY_INTERVAL_SECONDS": "1", "OTEL_BSP_SCHEDULE_DELAY": "500",
                           "VIGIL_SELF_TELEMETRY_ENDPOINT": f"http://127.0.0.1:{ports['tenant']}"}, ports=ports)
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        own = await api.tenant(session, tenant_base, control_base, tenant_id="vigil", roles=("responder",))
        responder = own["responder"]
        started = time.time_ns()
        r = await responder.post("/api/incidents", json={"title": "self-telemetry probe", "severity": "P3"})
        assert r.status == 201

        async def incident_spans():
            r = await responder.get("/api/traces", params={"service": "vigil-incident",
                                                           "from": iso(started - 60 * 10**9)})
            return [t for t in r.data["items"] if "vigil-gateway" in t["services"]]

        traces = await eventually(incident_spans, timeout=60)
        tree = (await responder.get(f"/api/traces/{traces[0]['trace_id']}")).data
        assert tree["spans"][0]["service"] == "vigil-gateway"  # one trace: gateway -> gRPC -> incident
