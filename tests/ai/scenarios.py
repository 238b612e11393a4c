"""Single-fault scenarios with red herrings, for the RCA scenario suite. Each scenario is a small world: CIs and
their relations, telemetry (metrics, error logs, spans) with 150 minutes of normal behaviour and a fault in the
last minutes, changes, and an incident; `expected` names the CI that must come first (None: nothing may be
named). Written to the stack through the gateway's public API, as any client would."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.support import api

MINUTES = 150


@dataclass(frozen=True)
class Metric:
    service: str
    name: str
    base: float
    # (minutes before now when the fault begins, factor applied from then on)
    fault: tuple[int, float] | None = None
    kind: str = "gauge"  # gauge or a delta sum ("sum")
    noise: float = 0.05
    # (minutes before now since when, factor): a condition that began before the analysis window and lasts,
    # abnormal against the baseline but not news.
    chronic: tuple[int, float] | None = None


@dataclass(frozen=True)
class ErrorLogs:
    service: str
    body: str
    per_minute: int
    since: int  # minutes before now (MINUTES: present all along, in the baseline too)


@dataclass(frozen=True)
class Spans:
    service: str
    operation: str
    fail_since: int | None  # minutes before now; None: never fails
    per_minute: int = 4


@dataclass(frozen=True)
class ChangeRef:
    ci: str
    title: str
    minutes_ago: int
    status: str = "implement"


@dataclass
class Scenario:
    name: str
    items: dict[str, str]  # CI name -> class
    relations: list[tuple[str, str, str]]  # (source, type, target)
    incident_on: str
    expected: str | None
    metrics: list[Metric] = field(default_factory=list)
    logs: list[ErrorLogs] = field(default_factory=list)
    spans: list[Spans] = field(default_factory=list)
    changes: list[ChangeRef] = field(default_factory=list)
    hypothesis: str | None = None
    # CIs that must not come first (the red herrings), for the report.
    herrings: tuple[str, ...] = ()


def latency(service, base=100.0, fault=None, **kw) -> Metric:
    return Metric(service, "http_server_duration_ms", base, fault, **kw)


SCENARIOS = [
    Scenario("database_latency", {"web": "application", "api": "service", "db": "database", "batch": "service"},
             [("web", "depends_on", "api"), ("api", "depends_on", "db")], "web", "db",
             [latency("web", 120, (8, 5)), latency("api", 60, (8, 6)), latency("db", 5, (10, 30)),
              latency("batch", 40, (30, 50))], hypothesis="latency_degradation", herrings=("batch",)),
    Scenario("bad_deploy", {"web": "application", "api": "service", "db": "database"},
             [("web", "depends_on", "api"), ("api", "depends_on", "db")], "web", "api",
             [latency("web", 120, (7, 3)), latency("db", 5)],
             logs=[ErrorLogs("api", "NullPointerException in OrderController.place line 212", 20, 8)],
             spans=[Spans("api", "POST /orders", 8)],
             changes=[ChangeRef("api", "deploy api v2.4.1", 12), ChangeRef("db", "db minor upgrade", 3 * 24 * 60,
                                                                          "closed")],
             hypothesis="bad_change", herrings=("db",)),
    Scenario("pool_exhaustion", {"web": "application", "api": "service", "reports": "application"},
             [("web", "depends_on", "api"), ("reports", "depends_on", "web")], "web", "api",
             [latency("web", 120, (7, 4)), Metric("api", "db_pool_connections_in_use", 10, (10, 10)),
              Metric("reports", "queue_backlog", 5, (6, 80))],
             hypothesis="resource_exhaustion", herrings=("reports",)),
    Scenario("cache_outage", {"web": "application", "api": "service", "cache": "cache", "db": "database"},
             [("web", "depends_on", "api"), ("api", "depends_on", "cache"), ("api", "depends_on", "db")], "web",
             "cache",
             [latency("web", 120, (7, 3)), latency("api", 60, (7, 4)),
              Metric("cache", "availability", 100.0, (9, 0.6), noise=0.0), latency("db", 5, None, noise=0.2)],
             logs=[ErrorLogs("cache", "READONLY You can't write against a read only replica", 15, 9)],
             hypothesis="dependency_outage", herrings=("db",)),
    Scenario("queue_backlog", {"frontend": "application", "worker": "service", "queue": "queue",
                               "exporter": "service"},
             [("frontend", "depends_on", "worker"), ("worker", "depends_on", "queue"),
              ("frontend", "depends_on", "exporter")], "frontend", "queue",
             [latency("frontend", 200, (6, 3)), latency("worker", 80, (7, 5)),
              Metric("queue", "consumer_lag", 20, (10, 40)),
              Metric("exporter", "scrape_duration_seconds", 2, chronic=(75, 20))],
             hypothesis="resource_exhaustion", herrings=("exporter",)),
    Scenario("traffic_surge", {"shop": "application", "search": "service"},
             [("shop", "depends_on", "search")], "shop", "shop",
             [Metric("shop", "http_requests", 600, (9, 10), kind="sum"), latency("shop", 150, (8, 4)),
              latency("search", 30, (2, 8))], hypothesis="traffic_surge", herrings=("search",)),
    Scenario("host_saturation", {"api": "service", "host-1": "server", "other": "service", "host-2": "server"},
             [("api", "runs_on", "host-1"), ("other", "runs_on", "host-2"), ("api", "depends_on", "other")], "api",
             "host-1",
             [latency("api", 80, (7, 5)), Metric("host-1", "cpu_utilization", 35, (10, 2.8)),
              latency("other", 40, None, noise=0.15), Metric("host-2", "cpu_utilization", 30, noise=0.2)],
             hypothesis="resource_exhaustion", herrings=("other", "host-2")),
    Scenario("firewall_change", {"web": "application", "api": "service", "firewall": "network",
                                 "db": "database"},
             [("web", "depends_on", "api"), ("api", "connects_to", "firewall"), ("api", "depends_on", "db")], "web",
             "firewall",
             [latency("web", 120, (6, 4)), latency("api", 60, (6, 5)), latency("db", 5)],
             logs=[ErrorLogs("api", "upstream connect error or disconnect/reset before headers", 25, 6)],
             changes=[ChangeRef("firewall", "tighten egress rules", 9), ChangeRef("db", "index rebuild",
                                                                                2 * 24 * 60, "closed")],
             hypothesis="bad_change", herrings=("api", "db")),
    Scenario("payment_spans", {"checkout": "application", "payments": "service"},
             [("checkout", "depends_on", "payments")], "checkout", "payments",
             [latency("checkout", 300, (6, 2.5))],
             logs=[ErrorLogs("checkout", "cart cache miss for session", 3, MINUTES)],
             spans=[Spans("payments", "charge card", 9), Spans("checkout", "POST /checkout", None)],
             hypothesis="error_spike", herrings=("checkout",)),
    Scenario("database_refusing", {"api": "service", "orders-db": "database"},
             [("api", "depends_on", "orders-db")], "api", "orders-db",
             [latency("api", 70, (7, 3))],
             logs=[ErrorLogs("orders-db", "FATAL: remaining connection slots are reserved", 30, 9),
                   ErrorLogs("api", "retrying request 3 of 5", 2, MINUTES)],
             hypothesis="dependency_outage", herrings=("api",)),
    Scenario("deep_dependency", {"web": "application", "api": "service", "svc": "service", "store": "database"},
             [("web", "depends_on", "api"), ("api", "depends_on", "svc"), ("svc", "depends_on", "store")], "web",
             "store",
             [latency("web", 120, (5, 3)), latency("api", 60, (6, 4)), latency("svc", 30, (7, 5)),
              latency("store", 4, (9, 25))],
             changes=[ChangeRef("api", "feature flag", 5 * 24 * 60, "closed")], herrings=("api", "svc")),
    Scenario("quiet", {"web": "application", "api": "service", "noisy": "service"},
             [("web", "depends_on", "api")], "web", None,
             [latency("web", 120), latency("api", 60), latency("noisy", 10, (20, 60))], herrings=("noisy",)),
]


def _value(m: Metric, minute_ago: int, rnd: random.Random) -> float:
    wave = 1 + m.noise * math.sin(minute_ago / 7.0) + m.noise * (rnd.random() - 0.5)
    value = m.base * wave
    if m.chronic is not None and minute_ago <= m.chronic[0]:
        value *= m.chronic[1]
    if m.fault is not None and minute_ago <= m.fault[0]:
        value *= m.fault[1]
    return round(value, 4)


def telemetry(s: Scenario, now: int) -> tuple[list[dict], list[dict], list[dict]]:
    rnd = random.Random(s.name)
    metrics, logs, spans = [], [], []
    for ago in range(MINUTES, 0, -1):
        t = now - ago * 60
        for m in s.metrics:
            item = {"name": m.name, "type": m.kind, "service": m.service, "value": _value(m, ago, rnd),
                    "timestamp": t}
            if m.kind == "sum":
                item["temporality"] = "delta"
            metrics.append(item)
        for lg in s.logs:
            if ago <= lg.since:
                logs += [{"timestamp": t + i, "service": lg.service, "level": "error",
                          "body": f"{lg.body} (request {rnd.randrange(10**6)})"} for i in range(lg.per_minute)]
        for sp in s.spans:
            for i in range(sp.per_minute):
                failing = sp.fail_since is not None and ago <= sp.fail_since
                start = (t + i * 10) * 1_000_000_000
                spans.append({"trace_id": f"{rnd.getrandbits(128):032x}", "span_id": f"{rnd.getrandbits(64):016x}",
                              "parent_span_id": "", "name": sp.operation, "kind": "server", "service": sp.service,
                              "start_time": start, "end_time": start + 40 * 1_000_000,
                              "status": "error" if failing else "ok",
                              "status_message": "card processor timeout" if failing else ""})
    return metrics, logs, spans


async def load(client: api.TenantClient, s: Scenario, now: int) -> dict:
    """Write one scenario to the stack; returns the incident and the CI ids by name."""
    made = (await client.post("/api/cmdb/import", {
        "items": [{"name": n, "class": c, "ref": n} for n, c in s.items.items()],
        "relations": [{"source_id": a, "type": t, "target_id": b} for a, t, b in s.relations]})).data["refs"]
    metrics, logs, spans = telemetry(s, now)
    for path, key, batch in (("/api/metrics", "metrics", metrics), ("/api/logs", "logs", logs),
                             ("/api/traces", "spans", spans)):
        for i in range(0, len(batch), 5000):
            resp = await client.post(path, {key: batch[i:i + 5000]})
            assert resp.status == 202, resp.body
    for ch in s.changes:
        start = datetime.fromtimestamp(now, UTC) - timedelta(minutes=ch.minutes_ago)
        change = (await client.post("/api/itsm/changes", {
            "title": ch.title, "type": "standard", "requested_start": start.isoformat(),
            "requested_end": (start + timedelta(minutes=30)).isoformat(), "ci_ids": [made[ch.ci]]})).data
        moves = {"implement": ["implement"], "closed": ["implement", "review", "closed"]}[ch.status]
        for status in moves:
            body = {"status": status} | ({"outcome": "successful"} if status == "review" else {})
            assert (await client.patch(f"/api/itsm/changes/{change['id']}", body)).status == 200
    incident = (await client.post("/api/incidents", {"title": f"{s.incident_on} degraded", "severity": "P2",
                                                     "ci_ids": [made[s.incident_on]]})).data
    recent_logs: dict[str, int] = {}
    for x in logs:
        if x["timestamp"] >= now - 600:
            recent_logs[x["service"]] = recent_logs.get(x["service"], 0) + 1
    recent_spans: dict[str, int] = {}
    for x in spans:
        if x["start_time"] >= (now - 600) * 1_000_000_000:
            recent_spans[x["service"]] = recent_spans.get(x["service"], 0) + 1
    return {"incident": incident, "refs": made, "recent": (metrics[-1], recent_logs, recent_spans)}


async def ingested(client: api.TenantClient, world: dict, now: int) -> bool:
    """Everything of the last ten minutes is queryable (batches may land in any order, so count it all)."""
    metric, logs, spans = world["recent"]
    got = await client.get("/api/metrics/query", params={
        "metric_name": metric["name"], "service": metric["service"], "start": now - 600, "end": now, "step": "60s",
        "aggregation": "rate" if metric["type"] == "sum" else "avg"})
    if got.status != 200 or not any(s["points"] for s in got.data["series"]):
        return False
    for service, expected in logs.items():
        got = await client.get("/api/logs", params={"service": service, "from": now - 600, "to": now + 60,
                                                    "limit": 1000})
        if got.status != 200 or len(got.data["items"]) < expected:
            return False
    for service, expected in spans.items():
        got = await client.get("/api/traces", params={"service": service, "from": now - 600, "to": now + 60,
                                                      "limit": 1000})
        if got.status != 200 or len(got.data["items"]) < expected:
            return False
    return True


def now_minute() -> int:
    return int(time.time()) // 60 * 60
