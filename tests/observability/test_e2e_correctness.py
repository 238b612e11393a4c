"""What a user of the documented API trusts, end to end through real processes (gateway, Kafka, the observability
service, chDB): metric series of replicas exported by the real OpenTelemetry SDK stay apart and aggregate
correctly, cursor pages over tied logs hold every record once, text search folds Unicode case, and every level
name is understood the same way on JSON ingest, OTLP ingest and the query."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time

import aiohttp
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.conftest import urls
from tests.observability.test_e2e import FAST, eventually, iso
from tests.support import api

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.clickhouse]

REPLICAS = (("pod-a", "node-1", 10, 10), ("pod-b", "node-2", 20, 1))  # instance, host, gauge value, counter step


def export_two_replicas(base: str, client: api.TenantClient) -> None:
    """Two replicas of service `cart`, each its own MeterProvider and Resource (same service.name, another
    service.instance.id and host.name), exporting through the SDK's OTLP/HTTP exporter to the gateway: a gauge
    (10 and 20) and a cumulative counter (pod-a 10 then 20, pod-b 1 then 2), exported twice, interleaved."""
    headers = {"Authorization": f"Bearer {client.token}", "x-tenant-id": client.tenant_id}
    replicas = []
    for instance, host, gauge_value, step in REPLICAS:
        resource = Resource.create({"service.name": "cart", "service.instance.id": instance, "host.name": host})
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers),
                                               export_interval_millis=3_600_000)
        provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = provider.get_meter("cart")
        replicas.append((provider, meter.create_gauge("cart_queue_depth"), meter.create_counter("cart_requests"),
                         gauge_value, step))
    for _ in range(2):
        for provider, gauge, counter, gauge_value, step in replicas:
            gauge.set(gauge_value, {"queue": "orders"})
            counter.add(step, {"route": "/cart"})
            assert provider.force_flush(10_000)
            time.sleep(0.05)
    for provider, *_ in replicas:
        provider.shutdown()


async def test_replicas_logs_paging_search_and_levels(stack_factory):
    stack = stack_factory(FAST)
    tenant_base, control_base = urls(stack)
    async with aiohttp.ClientSession() as session:
        a = await api.tenant(session, tenant_base, control_base)
        writer, viewer = a["responder"], a["viewer"]
        started = time.time_ns()
        await asyncio.to_thread(export_two_replicas, tenant_base, writer)
        window = {"start": iso(started - 60 * 10**9), "end": iso(time.time_ns() + 60 * 10**9)}

        async def metric(name: str, aggregation: str, **params) -> dict:
            r = await viewer.get("/api/metrics/query", params={"metric_name": name, "aggregation": aggregation,
                                                               "step": "1d", **window, **params})
            assert r.status == 200, r.body
            return {tuple(sorted(s["labels"].items())): s["points"][-1]["value"] for s in r.data["series"]}

        async def both_counters_in():
            return await metric("cart_requests", "sum") == {(): 22.0}

        await eventually(both_counters_in)  # pod-a 20 + pod-b 2 at the last step, not 2
        for aggregation, expected in (("sum", 30.0), ("avg", 15.0), ("min", 10.0), ("max", 20.0), ("count", 2.0)):
            assert await metric("cart_queue_depth", aggregation) == {(): expected}, aggregation
        rate = await metric("cart_requests", "rate")
        # pod-a 10 + 10 and pod-b 1 + 1 (both series started inside the window): no reset invented
        assert rate[()] * 86400 == pytest.approx(22.0)
        assert await metric("cart_queue_depth", "max", by="host.name") == {
            (("host.name", "node-1"),): 10.0, (("host.name", "node-2"),): 20.0}
        assert await metric("cart_requests", "rate", by="service.instance.id,route") == pytest.approx({
            (("route", "/cart"), ("service.instance.id", "pod-a")): 20 / 86400,
            (("route", "/cart"), ("service.instance.id", "pod-b")): 2 / 86400})
        assert await metric("cart_queue_depth", "sum", label="service.instance.id=pod-b") == {(): 20.0}

        # -- thirty records sharing timestamp and body (different attributes), read seven at a time
        now = time.time_ns()
        run = secrets.token_hex(4)
        logs = [{"timestamp": now, "service": "tied", "level": "warning", "body": f"{run} same body",
                 "attributes": {"n": n}} for n in range(30)]
        logs += [{"timestamp": now, "service": "tied", "level": "warning", "body": f"{run} twin"}] * 2
        r = await writer.post("/api/logs", json={"logs": logs})
        assert r.status == 202, r.body
        log_window = {"from": iso(now - 60 * 10**9), "to": iso(now + 60 * 10**9)}

        async def all_in():
            r = await viewer.get("/api/logs", params={"service": "tied", "limit": 1000, **log_window})
            return len(r.data["items"]) == 32

        await eventually(all_in)
        seen, cursor, pages = [], None, 0
        while True:
            params = {"service": "tied", "level": "warning", "limit": 7, **log_window,
                      **({"cursor": cursor} if cursor else {})}
            r = await viewer.get("/api/logs", params=params)
            assert r.status == 200, r.body
            seen += [i["attributes"].get("n", "twin") for i in r.data["items"]]
            pages += 1
            cursor = r.data["next_cursor"]
            if not cursor:
                break
        assert sorted(x for x in seen if x != "twin") == sorted(str(n) for n in range(30))
        assert seen.count("twin") == 2 and pages == 5  # byte-identical records are two records
        for bad in ("garbage", base64.urlsafe_b64encode(b'["logs",0,1,2,3]').decode(), cursor or "x" * 40):
            r = await viewer.get("/api/logs", params={"cursor": bad, **log_window})
            assert r.status == 422 and [f["field"] for f in r.body["fields"]] == ["cursor"], (bad, r.body)

        # -- Unicode search, and LIKE wildcards that stay literal
        r = await writer.post("/api/logs", json={"logs": [
            {"service": "unicode", "level": "err", "body": f"{run} Fehler: Überlauf im Puffer 3"},
            {"service": "unicode", "level": "info", "body": f"{run} ΣΦΑΛΜΑ σύνδεσης"},
            {"service": "unicode", "level": "info", "body": f"{run} İSTANBUL deposu"},
            {"service": "unicode", "level": "info", "body": f"{run} 100% of quota_used"}]})
        assert r.status == 202

        async def search(q: str) -> list[str]:
            r = await viewer.get("/api/logs", params={"service": "unicode", "q": q, **log_window})
            return [i["body"].removeprefix(f"{run} ") for i in r.data["items"]]

        async def unicode_in():
            return len(await search(run)) == 4

        await eventually(unicode_in)
        for q in ("Überlauf", "ÜBERLAUF", "überlauf"):
            assert await search(q) == ["Fehler: Überlauf im Puffer 3"], q
        for q in ("σφαλμα", "ΣΎΝΔΕΣΗΣ"):
            assert await search(q) == ["ΣΦΑΛΜΑ σύνδεσης"], q
        for q in ("istanbul", "İstanbul"):
            assert await search(q) == ["İSTANBUL deposu"], q
        assert await search("0% of") == ["100% of quota_used"]
        assert await search("%") == ["100% of quota_used"] and await search("a_u") == ["100% of quota_used"]
        assert await search("1_0") == []

        # -- one level vocabulary: JSON ingest, OTLP ingest (text only and number only) and the query
        r = await writer.post("/api/logs", json={"logs": [
            {"service": "levels", "level": name, "body": f"{run} json {name}"}
            for name in ("warning", "WARN", "critical", "err", "information", "notice", "panic")]})
        assert r.status == 202, r.body
        r = await writer.post("/v1/logs", json={"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "levels"}}]},
            "scopeLogs": [{"logRecords": [
                {"timeUnixNano": str(time.time_ns()), "severityText": "Warning", "body": {"stringValue": f"{run} otlp text"}},
                {"timeUnixNano": str(time.time_ns()), "severityNumber": 14, "body": {"stringValue": f"{run} otlp number"}},
                {"timeUnixNano": str(time.time_ns()), "severityText": "CRIT", "body": {"stringValue": f"{run} otlp crit"}},
            ]}]}]})
        assert r.status == 200, r.body

        async def by_level(level: str) -> set[tuple[str, str]]:
            r = await viewer.get("/api/logs", params={"service": "levels", "level": level, "limit": 100, **log_window})
            assert r.status == 200, r.body
            return {(i["body"].removeprefix(f"{run} "), i["level"]) for i in r.data["items"]}

        async def levels_in():
            return len(await by_level("trace,debug,info,warn,error,fatal")) == 10

        await eventually(levels_in)
        warn = {("json warning", "warn"), ("json WARN", "warn"), ("otlp text", "warn"), ("otlp number", "warn")}
        assert await by_level("warning") == await by_level("WARN") == warn
        fatal = {("json critical", "fatal"), ("json panic", "fatal"), ("otlp crit", "fatal")}
        assert await by_level("critical") == await by_level("fatal") == await by_level("emergency") == fatal
        assert await by_level("err") == {("json err", "error")}
        assert await by_level("information") == {("json information", "info"), ("json notice", "info")}
        r = await viewer.get("/api/logs", params={"level": "loud", **log_window})
        assert r.status == 422 and r.body["fields"][0]["field"] == "level"
        r = await writer.post("/api/logs", json={"logs": [{"service": "x", "body": "b", "level": "loud"}]})
        assert r.status == 422 and r.body["fields"][0]["field"] == "logs[0].level"
