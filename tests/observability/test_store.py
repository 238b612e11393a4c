"""The ClickHouse store on the real engine (chDB): versioned migrations, the queries the service runs, tenancy and
bound parameters, and the schema's per-plan retention."""

from __future__ import annotations

import subprocess
import sys
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


@pytest.mark.parametrize("pattern", ["(?=x)", r"(a)\1", "a{2000}"])
async def test_a_matcher_python_accepts_but_re2_refuses_is_a_422_on_label(clickhouse, tenant_id, pattern):
    now = time.time_ns()
    await clickhouse.insert_json_rows("otel_metrics", metric_row(
        tenant_id, 7, name="depth", type_="gauge", ts_ns=now - NS, service="api", value=1.0,
        attributes={"queue": "orders"}), f"{tenant_id}-re2")
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    with pytest.raises(ValidationFailed) as refused:
        await service.metrics(CallContext(tenant_id), MetricQuery(
            "depth", TimeRange(now - HOUR, now + NS), 60, "avg", matchers=(Matcher("queue", "=~", pattern),)))
    assert [f.field for f in refused.value.fields] == ["label"]


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


# -- series identity: replicas of one service are separate series ----------------------------------------------

REPLICAS = ({"service.name": "api", "service.instance.id": "pod-a", "host.name": "node-1"},
            {"service.name": "api", "service.instance.id": "pod-b", "host.name": "node-2"})


async def _metrics(ch: st.ClickHouse, tenant: str, points: list[dict]) -> None:
    await ch.insert_json_rows("otel_metrics", b"".join(metric_row(tenant, 7, service="api", **p) for p in points),
                              f"{tenant}-{time.time_ns()}")


async def test_replicas_are_separate_series_for_every_aggregation(clickhouse, tenant_id):
    step = 60 * NS
    start = (time.time_ns() // step) * step - 10 * step
    # a gauge: pod-a 10, pod-b 20, in the same step (resource attribute keys in another order for pod-b)
    await _metrics(clickhouse, tenant_id, [
        {"name": "queue_depth", "type_": "gauge", "ts_ns": start + 5 * NS, "value": 10.0, "resource": REPLICAS[0],
         "attributes": {"queue": "orders"}},
        {"name": "queue_depth", "type_": "gauge", "ts_ns": start + 7 * NS, "value": 20.0,
         "resource": dict(reversed(list(REPLICAS[1].items()))), "attributes": {"queue": "orders"}},
        {"name": "queue_depth", "type_": "gauge", "ts_ns": start + 9 * NS, "value": 21.0,  # same series as above
         "resource": REPLICAS[1], "attributes": {"queue": "orders"}}])
    # cumulative counters: pod-a 10 then 20, pod-b 1 then 2, interleaved in time, both started before the window
    counters = [(0, 10.0, 0), (0, 1.0, 1), (1, 20.0, 0), (1, 2.0, 1)]
    await _metrics(clickhouse, tenant_id, [
        {"name": "reqs", "type_": "sum", "ts_ns": start + s * step + (r + 1) * NS, "value": v,
         "start_ns": start - step, "temporality": 2, "monotonic": True, "resource": REPLICAS[r],
         "attributes": {"route": "/"}} for s, v, r in counters])
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    ctx = CallContext(tenant_id)
    window = TimeRange(start, start + 2 * step)

    async def last(metric: str, aggregation: str, **kw) -> dict[tuple, float]:
        result = await service.metrics(ctx, MetricQuery(metric, window, 60, aggregation, **kw))
        return {tuple(s.labels.values()): s.points[-1][1] for s in result.series}

    expected = {"sum": 31.0, "avg": 15.5, "min": 10.0, "max": 21.0, "count": 2.0}  # pod-b: 20 then 21, one series
    for aggregation, value in expected.items():
        assert await last("queue_depth", aggregation) == {(): value}, aggregation
    assert await last("reqs", "sum") == {(): 22.0}
    rate = await service.metrics(ctx, MetricQuery("reqs", window, 60, "rate"))
    # no reset invented between the replicas: increases are 0 in the first step, then 10 + 1
    assert [round(v * 60, 6) for _, v in rate.series[0].points] == [0.0, 11.0]
    # group by a resource attribute; a point attribute and `service` resolve as before
    assert await last("queue_depth", "max", group_by=("host.name",)) == {("node-1",): 10.0, ("node-2",): 21.0}
    assert await last("queue_depth", "sum", group_by=("service", "queue")) == {("api", "orders"): 31.0}
    assert await last("queue_depth", "sum", matchers=(Matcher("service.instance.id", "=", "pod-a"),)) == {(): 10.0}
    assert await last("reqs", "sum", matchers=(Matcher("host.name", "=~", "node-[2-9]"),)) == {(): 2.0}


async def test_a_point_attribute_wins_over_a_resource_attribute_of_the_same_name(clickhouse, tenant_id):
    now = (time.time_ns() // (60 * NS)) * 60 * NS
    await _metrics(clickhouse, tenant_id, [
        {"name": "temp", "type_": "gauge", "ts_ns": now - 30 * NS, "value": 1.0, "resource": {"zone": "r-zone"},
         "attributes": {"zone": "p-zone"}},
        {"name": "temp", "type_": "gauge", "ts_ns": now - 30 * NS, "value": 2.0, "resource": {"zone": "other"}}])
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    result = await service.metrics(CallContext(tenant_id), MetricQuery("temp", TimeRange(now - 60 * NS, now), 60, "sum",
                                                                       group_by=("zone",)))
    assert {s.labels["zone"]: s.points[0][1] for s in result.series} == {"p-zone": 1.0, "other": 2.0}


async def test_anomaly_baselines_are_per_replica(clickhouse, tenant_id):
    now = time.time_ns()
    # pod-a steady at 10 then 500; pod-b steady at 100 the whole time. Merged, neither would stand out the same way.
    points = [{"name": "lat", "type_": "gauge", "ts_ns": now - (120 - i) * 60 * NS,
               "value": (500.0 if i >= 110 else 10.0 + i % 3) if r == 0 else 100.0 + i % 3, "resource": REPLICAS[r]}
              for i in range(120) for r in (0, 1)]
    await _metrics(clickhouse, tenant_id, points)
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    found = await service.anomalies(CallContext(tenant_id), AnomalyQuery(TimeRange(now - 15 * 60 * NS, now + NS)))
    assert [(a.observed, a.resource.get("host.name")) for a in found.metric_anomalies] == [(500.0, "node-1")]


async def test_points_stored_before_the_identity_change_keep_their_series(clickhouse, tenant_id):
    """Migration 0006 changes the SeriesId expression only for new points; what it does to old ones is
    documented: they keep the id they were stored with."""
    now = time.time_ns()
    await _metrics(clickhouse, tenant_id, [{"name": "g", "type_": "gauge", "ts_ns": now, "value": 1.0,
                                            "resource": REPLICAS[0], "attributes": {"k": "v"}}])
    old, new = (await clickhouse.query(
        "SELECT SeriesId, cityHash64(ServiceName, Attributes) FROM otel_metrics WHERE TenantId = {t:String}",
        {"t": tenant_id}))[0]
    assert old != new  # stored with the resource in its identity, not the old (service, attributes) hash
    default = (await clickhouse.query("SELECT default_expression FROM system.columns WHERE table = 'otel_metrics' "
                                      "AND name = 'SeriesId' AND database = currentDatabase()"))[0][0]
    assert "ResourceAttributes" in default and "ScopeName" in default


# -- text search: Unicode case folding on both sides -------------------------------------------------------------


BODIES = ["Fehler: Überlauf im Puffer 7", "ΟΔΟΣ ΚΛΕΙΣΤΗ", "Ошибка соединения с базой", "İSTANBUL şubesi kapalı",
          "ıstanbul lower dotless", "Straße gesperrt", "100% done_now", "plain ascii DECLINED"]


@pytest.mark.parametrize(("q", "found"), [
    ("Überlauf", [0]), ("ÜBERLAUF", [0]), ("überlauf", [0]), ("puffer", [0]),
    ("οδος", [1]), ("ΟΔΟΣ", [1]), ("Οδός", []), ("κλειστη", [1]),  # accents are not folded away, case is
    ("ОШИБКА", [2]), ("соединения", [2]), ("БАЗОЙ", [2]),
    ("istanbul", [3, 4]), ("İstanbul", [3, 4]), ("ISTANBUL", [3, 4]), ("ıstanbul", [3, 4]), ("ŞUBESI", [3]),
    ("STRASSE", [5]), ("straße", [5]),
    ("100%", [6]), ("%", [6]), ("_", [6]), ("0% d", [6]), ("e_n", [6]), ("declined", [7]), ("x%y", []),
])
async def test_log_search_folds_unicode_case_on_both_sides(clickhouse, tenant_id, q, found):
    now = time.time_ns()
    rows = b"".join(log_row(tenant_id, 7, ts_ns=now - i * NS, service="api", severity="INFO", severity_no=9, body=b)
                    for i, b in enumerate(BODIES))
    await clickhouse.insert_json_rows("otel_logs", rows, f"{tenant_id}-unicode")
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    page, _ = await service.logs(CallContext(tenant_id), LogQuery(TimeRange(now - HOUR, now + NS), q=q))
    assert sorted(BODIES.index(r.body) for r in page) == found


async def test_log_level_filter_takes_aliases(clickhouse, tenant_id):
    now = time.time_ns()
    levels = [("WARNING", 13), ("WARN", 14), ("CRIT", 21), ("ERR", 17), ("INFO", 9), ("NOTICE", 10), ("", 0)]
    rows = b"".join(log_row(tenant_id, 7, ts_ns=now - i * NS, service="api", severity=t, severity_no=n,
                            body=f"{t} {n}") for i, (t, n) in enumerate(levels))
    await clickhouse.insert_json_rows("otel_logs", rows, f"{tenant_id}-levels")
    service = ObservabilityService(st.TelemetryStore(clickhouse))
    ctx = CallContext(tenant_id)

    async def bodies(*names: str) -> set[str]:
        page, _ = await service.logs(ctx, LogQuery(TimeRange(now - HOUR, now + NS), levels=names))
        return {r.body for r in page}

    assert await bodies("warning") == await bodies("warn") == {"WARNING 13", "WARN 14"}
    assert await bodies("critical") == await bodies("FATAL") == {"CRIT 21"}
    assert await bodies("err", "emergency") == {"ERR 17", "CRIT 21"}
    assert await bodies("information") == {"INFO 9", "NOTICE 10"}
    page, _ = await service.logs(ctx, LogQuery(TimeRange(now - HOUR, now + NS), q="warning"))
    assert [(r.level, r.severity_number) for r in page] == [("warn", 13)]


BACKFILL = """
import asyncio, sys, time
from pathlib import Path
from services.observability import store as st

async def main(tmp):
    ch = st.ClickHouse(f"chdb://{tmp / 'ch'}")
    old = tmp / "old"
    old.mkdir()
    for number, _name, path in st.migration_files():
        if number <= 6:
            (old / path.name).write_text(path.read_text())
    await st.migrate(ch, old)
    row = (b'{"TenantId": "t", "Timestamp": %d, "ServiceName": "api", "SeverityNumber": 9, '
           b'"Body": "\\u00dcberlauf"}\\n' % (time.time_ns() // 10**9))
    await ch.insert_json_rows("otel_logs", row * 2, "before")
    await st.migrate(ch)
    first = await ch.query("SELECT RecordId, BodySearch FROM otel_logs WHERE TenantId = 't' ORDER BY RecordId")
    await ch.command("OPTIMIZE TABLE otel_logs FINAL")
    again = await ch.query("SELECT RecordId, BodySearch FROM otel_logs WHERE TenantId = 't' ORDER BY RecordId")
    print(len({r[0] for r in first}), sorted({r[1] for r in first}), again == first)
    await ch.close()

asyncio.run(main(Path(sys.argv[1])))
"""


def test_rows_stored_before_the_paging_and_search_migrations_are_backfilled(tmp_path):
    """A store migrated up to 0006 holds two byte-identical log rows; migrating to the head gives each its own
    RecordId, stored (the same after a merge), and a folded search body. In a process of its own: chDB opens one
    engine path per process."""
    out = subprocess.run([sys.executable, "-c", BACKFILL, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[0] == "2 ['überlauf'] True"
