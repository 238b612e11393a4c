"""The ClickHouse store on the real engine (chDB): versioned migrations, the queries the service runs, tenancy and
bound parameters, and the schema's per-plan retention."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.ingest.rows import log_row, metric_row, span_row
from services.observability import store as st
from services.observability.service import (
    NS,
    AnomalyQuery,
    LogQuery,
    Matcher,
    MetricQuery,
    ObservabilityService,
    TimeRange,
    TraceQuery,
)
from vigil.runtime.context import CallContext
from vigil.runtime.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.clickhouse

HOUR = 3600 * NS


async def test_migrations_are_recorded_idempotent_and_refuse_gaps(clickhouse, tmp_path: Path):
    assert await st.migrate(clickhouse) == []  # the session fixture applied them; nothing left to do
    versions = [r[0] for r in await clickhouse.query("SELECT Version FROM schema_migrations FINAL ORDER BY Version")]
    assert versions == [n for n, _, _ in st.migration_files()]
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0003_c.sql").write_text("SELECT 1")
    with pytest.raises(RuntimeError, match="gap"):
        st.migration_files(tmp_path)
    (tmp_path / "0003_c.sql").rename(tmp_path / "0001_b.sql")
    with pytest.raises(RuntimeError, match="duplicate"):
        st.migration_files(tmp_path)


async def test_tables_lead_with_the_tenant_and_expire_by_plan(clickhouse):
    for table in ("otel_logs", "otel_metrics", "otel_traces"):
        rows = await clickhouse.query("SELECT sorting_key, partition_key, engine_full FROM system.tables "
                                      "WHERE database = currentDatabase() AND name = {t:String}", {"t": table})
        sorting, partition, engine = rows[0]
        assert sorting.startswith("TenantId"), table
        assert partition.startswith("toDate("), table
        assert "toIntervalDay(RetentionDays)" in engine, table


async def _seed(ch: st.ClickHouse, tenant: str, now: int) -> None:
    logs = b"".join(log_row(tenant, 7, ts_ns=now - i * NS, service="api" if i % 2 else "db",
                            severity="ERROR" if i % 5 == 0 else "INFO", severity_no=17 if i % 5 == 0 else 9,
                            body=f"request {i} failed: timeout after {i * 10} ms", trace_id="ab" * 16)
                    for i in range(40))
    await ch.insert_json_rows("otel_logs", logs, f"{tenant}-logs")
    points = b"".join(metric_row(tenant, 7, name="queue_depth", type_="gauge", ts_ns=now - (120 - i) * 60 * NS,
                                 service="api", value=10.0 + (i % 3) if i < 110 else 500.0,
                                 attributes={"queue": "orders"}) for i in range(120))
    await ch.insert_json_rows("otel_metrics", points, f"{tenant}-metrics")
    spans = b"".join(span_row(tenant, 7, trace_id="cd" * 16, span_id=f"{i + 1:016x}",
                              parent_span_id=f"{i:016x}" if i else "", name=f"op{i}", kind="Server", service="api",
                              start_ns=now - 5 * NS + i, end_ns=now, status_code="Error" if i == 1 else "Ok")
                     for i in range(3))
    await ch.insert_json_rows("otel_traces", spans, f"{tenant}-traces")


async def test_queries_are_scoped_to_the_tenant(clickhouse, tenant_id):
    other = tenant_id + "-other"
    now = time.time_ns()
    await _seed(clickhouse, tenant_id, now)
    await _seed(clickhouse, other, now)
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    mine, theirs = CallContext(tenant_id), CallContext(other + "-nobody")
    window = TimeRange(now - 3 * HOUR, now + NS)
    logs, _ = await service.logs(mine, LogQuery(window, levels=("error",), services=("db",), limit=100))
    assert len(logs) == 4 and {r.service for r in logs} == {"db"}
    assert (await service.logs(theirs, LogQuery(window)))[0] == []
    assert (await service.traces(theirs, TraceQuery(window)))[0] == []
    with pytest.raises(NotFound):
        await service.trace(theirs, "cd" * 16)
    roots, count = await service.trace(mine, "cd" * 16)
    assert count == 3 and roots[0].children[0].children[0].name == "op2"
    found = await service.anomalies(mine, AnomalyQuery(TimeRange(now - 15 * 60 * NS, now + NS)))
    assert found.error_clusters[0].template == "request <n> failed: timeout after <n> ms"
    assert [c.count for c in found.error_clusters] == [4, 4]  # one cluster per service
    assert [(a.metric_name, a.observed) for a in found.metric_anomalies] == [("queue_depth", 500.0)]
    assert [(o.operation, o.error_count) for o in found.error_operations] == [("op1", 1)]
    assert (await service.anomalies(theirs, AnomalyQuery(window))).metric_anomalies == []


async def test_hostile_parameters_are_bound_not_spliced(clickhouse, tenant_id):
    now = time.time_ns()
    await _seed(clickhouse, tenant_id, now)
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    ctx = CallContext("' OR 1=1 OR TenantId != '")  # even the tenant id is just a value
    window = TimeRange(now - 3 * HOUR, now + NS)
    evil = ["' OR 1=1 --", "x') OR ('1'='1", "\\'; DROP TABLE otel_logs; --", "{tenant:String}", "%", "_"]
    for bad in evil:
        assert (await service.logs(ctx, LogQuery(window, services=(bad,), q=bad)))[0] == []
        assert (await service.traces(ctx, TraceQuery(window, service=bad, operation=bad)))[0] == []
        result = await service.metrics(ctx, MetricQuery(bad, window, 60, "avg", group_by=("queue",),
                                                        matchers=(Matcher("queue", "=", bad),), service=bad))
        assert result.series == []
        assert (await service.anomalies(ctx, AnomalyQuery(window, services=(bad,)))).error_clusters == []
    mine = CallContext(tenant_id)
    assert len((await service.logs(mine, LogQuery(window, limit=100)))[0]) == 40  # intact
    assert (await service.logs(mine, LogQuery(window, q="%")))[0] == []  # LIKE wildcards are literal
    with pytest.raises(ValidationFailed):
        await service.trace(mine, "' OR 1=1 --")


async def test_metric_rate_counts_counter_resets(clickhouse, tenant_id):
    now = (time.time_ns() // (60 * NS)) * 60 * NS
    start = now - 10 * 60 * NS
    values = [0, 60, 120, 180, 30, 90]  # a restart (reset to 0) between 180 and 30
    points = b"".join(metric_row(tenant_id, 7, name="reqs", type_="sum", ts_ns=start + i * 60 * NS,
                                 start_ns=start - NS if i < 4 else start + 4 * 60 * NS - NS, service="api",
                                 value=float(v), temporality=2, monotonic=True) for i, v in enumerate(values))
    await clickhouse.insert_json_rows("otel_metrics", points, f"{tenant_id}-rate")
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    result = await service.metrics(CallContext(tenant_id), MetricQuery("reqs", TimeRange(start, now), 60, "rate"))
    increases = [round(v * 60) for _, v in result.series[0].points]
    assert increases == [0, 60, 60, 60, 30, 60]


async def test_rows_expire_by_their_plan_retention(clickhouse, tenant_id):
    three_days_ago = time.time_ns() - 3 * 24 * HOUR
    rows = b"".join(log_row(tenant_id, days, ts_ns=three_days_ago, service="api", severity="INFO", severity_no=9,
                            body=f"kept {days} days") for days in (1, 7))
    await clickhouse.insert_json_rows("otel_logs", rows, f"{tenant_id}-ttl")
    await clickhouse.command("OPTIMIZE TABLE otel_logs FINAL")  # TTL is applied when parts merge
    left = await clickhouse.query("SELECT Body FROM otel_logs WHERE TenantId = {t:String}", {"t": tenant_id})
    assert [r[0] for r in left] == ["kept 7 days"]  # each row expires by the retention its plan stamped
