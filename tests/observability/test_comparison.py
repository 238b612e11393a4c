"""Window comparison (CompareWindow, for root-cause analysis) on the real engine: per-step values and robust
baseline statistics of metric series (gauges, delta and cumulative sums), operations' errors and p95 from spans,
error-log templates counted in the window and the baseline; only the two ranges are read; tenancy; validation."""

from __future__ import annotations

import statistics

import pytest

from gateway.ingest.rows import log_row, metric_row, span_row
from services.observability import store as st
from services.observability.comparison import Comparison, WindowComparison, choose_step
from services.observability.comparison_store import ComparisonQueries
from services.observability.service import NS, TimeRange
from vigil.runtime.context import CallContext
from vigil.runtime.errors import ValidationFailed

pytestmark = pytest.mark.clickhouse

T0 = 1_699_999_200 * NS  # a fixed past time, a whole hour: the comparison is about the data's own timestamps
MIN = 60 * NS
BASE = TimeRange(T0, T0 + 120 * MIN)
WINDOW = TimeRange(T0 + 120 * MIN, T0 + 150 * MIN)


def _baseline_value(i: int) -> float:
    return 100.0 + (i * 7 % 11) - 5  # 95..105, deterministic


async def _seed(ch: st.ClickHouse, tenant: str) -> None:
    rows = []
    for i in range(150):
        ts = T0 + i * MIN
        latency = _baseline_value(i) if i < 140 else 400.0  # the last 10 minutes of the window deviate
        rows.append(metric_row(tenant, 3650, name="latency_ms", type_="gauge", ts_ns=ts, service="api",
                               value=latency, attributes={"route": "/pay"}))
        rows.append(metric_row(tenant, 3650, name="latency_ms", type_="gauge", ts_ns=ts, service="api",
                               value=50.0, attributes={"route": "/health"}))
        rows.append(metric_row(tenant, 3650, name="requests", type_="sum", ts_ns=ts, service="api", value=10.0,
                               temporality=1))
        # A cumulative counter growing by 5 a minute, reset at minute 130.
        rows.append(metric_row(tenant, 3650, name="errors_total", type_="sum", ts_ns=ts, service="api",
                               value=5.0 * (i if i < 130 else i - 130), temporality=2, start_ns=T0, monotonic=True))
        rows.append(metric_row(tenant, 3650, name="latency_ms", type_="gauge", ts_ns=ts, service="other",
                               value=1.0))
    # Outside both ranges: must not be read.
    rows.append(metric_row(tenant, 3650, name="latency_ms", type_="gauge", ts_ns=T0 + 200 * MIN, service="api",
                           value=1e9, attributes={"route": "/pay"}))
    await ch.insert_json_rows("otel_metrics", b"".join(rows), f"{tenant}-cmp-metrics")
    spans = []
    for i in range(150):
        failing = i >= 140
        spans.append(span_row(tenant, 3650, trace_id=f"{i:032x}", span_id=f"{i + 1:016x}", parent_span_id="",
                              name="POST /pay", kind="Server", service="api", start_ns=T0 + i * MIN,
                              end_ns=T0 + i * MIN + (900 if failing else 20) * 1_000_000,
                              status_code="Error" if failing else "Ok",
                              status_message="pool exhausted" if failing else ""))
    await ch.insert_json_rows("otel_traces", b"".join(spans), f"{tenant}-cmp-traces")
    logs = []
    for i in range(0, 150, 10):  # an old, steady error
        logs.append(log_row(tenant, 3650, ts_ns=T0 + i * MIN, service="api", severity="ERROR", severity_no=17,
                            body=f"cache miss for key {i}"))
    for i in range(140, 150):  # a new error in the window
        logs.append(log_row(tenant, 3650, ts_ns=T0 + i * MIN + NS, service="api", severity="ERROR",
                            severity_no=17, body=f"connection refused to 10.0.0.{i % 5}:5432",
                            trace_id=f"{i:032x}"))
    logs.append(log_row(tenant, 3650, ts_ns=T0 + 145 * MIN, service="api", severity="INFO", severity_no=9,
                        body="all good"))
    await ch.insert_json_rows("otel_logs", b"".join(logs), f"{tenant}-cmp-logs")


@pytest.fixture
async def comparison(clickhouse, tenant_id) -> WindowComparison:
    await _seed(clickhouse, tenant_id)
    return WindowComparison(ComparisonQueries(clickhouse))


async def test_series_have_robust_baseline_stats_and_window_points(comparison, tenant_id):
    found = await comparison.compare(CallContext(tenant_id), Comparison(("api",), WINDOW, BASE, step_seconds=60))
    assert found.step_seconds == 60 and found.baseline_steps == 120
    by_key = {(s.metric_name, s.labels.get("route", "")): s for s in found.series}
    pay = by_key[("latency_ms", "/pay")]
    expected = [_baseline_value(i) for i in range(120)]
    med = statistics.median(expected)
    assert pay.baseline.count == 120
    assert pay.baseline.median == med
    assert pay.baseline.mad == statistics.median(abs(x - med) for x in expected)
    assert pay.baseline.q01 >= 95 and pay.baseline.q99 <= 105
    assert [t for t, _ in pay.points] == [T0 + i * MIN for i in range(120, 150)]
    assert [v for _, v in pay.points][-10:] == [400.0] * 10
    assert max(v for _, v in pay.points) < 1e9  # the point outside both ranges was not read
    assert by_key[("latency_ms", "/health")].baseline.mad == 0
    assert by_key[("requests", "")].metric_type == "sum" and {v for _, v in by_key[("requests", "")].points} == {10}
    # A cumulative counter reads as its increase per second; the reset counts from zero.
    counter = by_key[("errors_total", "")]
    assert counter.metric_type == "rate"
    assert [round(v * 60, 6) for _, v in counter.points] == [5.0] * 10 + [0.0] + [5.0] * 19
    assert counter.baseline.median == pytest.approx(5 / 60)
    assert {s.service for s in found.series} == {"api"}


async def test_operations_and_error_templates(comparison, tenant_id):
    found = await comparison.compare(CallContext(tenant_id), Comparison(("api",), WINDOW, BASE, step_seconds=300))
    assert found.step_seconds == 300 and found.baseline_steps == 24
    (op,) = found.operations
    assert (op.service, op.operation) == ("api", "POST /pay")
    assert op.baseline_spans == 120 and op.baseline_errors == 0
    assert op.baseline_p95_ms.median == pytest.approx(20, rel=0.01)
    assert sum(s.errors for s in op.steps) == 10 and sum(s.spans for s in op.steps) == 30
    assert op.steps[-1].p95_ms == pytest.approx(900, rel=0.01)
    assert op.sample_status_message == "pool exhausted"
    templates = {t.template: t for t in found.log_templates}
    refused = templates["connection refused to <ip>"]
    assert refused.baseline_count == 0 and sum(v for _, v in refused.points) == 10 and refused.level == "error"
    assert refused.first_ns == T0 + 140 * MIN + NS and refused.sample.startswith("connection refused")
    steady = templates["cache miss for key <n>"]
    assert steady.baseline_count == 12 and sum(v for _, v in steady.points) == 3
    assert "all good" not in templates


async def test_scoped_to_the_tenant_and_validated(comparison, tenant_id):
    other = await comparison.compare(CallContext(tenant_id + "-x"), Comparison(("api",), WINDOW, BASE))
    assert other.series == [] and other.operations == [] and other.log_templates == []
    assert choose_step(WINDOW) == 30 and choose_step(TimeRange(0, 6 * 3600 * NS)) == 600
    bad = [
        (Comparison((), WINDOW, BASE), "services"),
        (Comparison(("api",), WINDOW, TimeRange(T0, T0 + 130 * MIN)), "baseline_to"),  # overlaps the window
        (Comparison(("api",), WINDOW, TimeRange(T0 - 40 * 86400 * NS, T0)), "baseline_to"),
        (Comparison(("api",), WINDOW, BASE, step_seconds=7), "step_seconds"),
        (Comparison(("api",), TimeRange(WINDOW.end_ns, WINDOW.start_ns), BASE), "to"),
    ]
    for query, field in bad:
        with pytest.raises(ValidationFailed) as err:
            await comparison.compare(CallContext(tenant_id), query)
        assert field in {f.field for f in err.value.fields}, (query, err.value.fields)


async def test_a_baseline_may_come_after_the_window(comparison, tenant_id):
    # A known-good period need not precede the window (e.g. normal data recorded later).
    window, later = TimeRange(T0, T0 + 30 * MIN), TimeRange(T0 + 30 * MIN, T0 + 120 * MIN)
    found = await comparison.compare(CallContext(tenant_id), Comparison(("api",), window, later, step_seconds=60))
    pay = next(s for s in found.series if s.labels.get("route") == "/pay")
    assert pay.baseline.count == 90 and [t for t, _ in pay.points] == [T0 + i * MIN for i in range(30)]
    assert pay.baseline.median == statistics.median(_baseline_value(i) for i in range(30, 120))


async def test_replicas_are_separate_series(clickhouse, tenant_id):
    rows = b"".join(metric_row(tenant_id, 3650, name="cpu", type_="gauge", ts_ns=T0 + i * MIN, service="web",
                               value=float(i % 3) + (50 if pod == "b" and i >= 140 else 0),
                               resource={"service.instance.id": pod, "cloud.region": "eu"})
                    for i in range(150) for pod in ("a", "b"))
    await clickhouse.insert_json_rows("otel_metrics", rows, f"{tenant_id}-replicas")
    found = await WindowComparison(ComparisonQueries(clickhouse)).compare(
        CallContext(tenant_id), Comparison(("web",), WINDOW, BASE, step_seconds=60))
    by_pod = {s.labels["service.instance.id"]: s for s in found.series}
    assert set(by_pod) == {"a", "b"} and "cloud.region" not in by_pod["a"].labels
    assert max(v for _, v in by_pod["b"].points) > 50 > max(v for _, v in by_pod["a"].points)
