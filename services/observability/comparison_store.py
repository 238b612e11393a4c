"""The ClickHouse queries behind a window comparison (see comparison.py). Each reads only the two time ranges
(window and baseline, which may be far apart), buckets by the step, and aggregates per series, operation or
error-log template in one pass. Every value is a bound parameter, as in store.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from services.observability.comparison import (
    BaselineStats,
    Comparison,
    LogTemplateProfile,
    OperationProfile,
    OperationStep,
    SeriesProfile,
)
from services.observability.service import NS
from services.observability.store import ClickHouse, Sql
from vigil.levels import level_of

INSTANCE_KEYS = ("service.instance.id", "host.name", "k8s.pod.name")
# Robust statistics of the per-step values `v` over the rows flagged `inb` (in the baseline).
_STATS = ("countIf(inb) AS n, quantileExactIf(0.5)(v, inb) AS med, "
          "arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - med), groupArrayIf(v, inb))) AS mad, "
          "quantileExactIf(0.01)(v, inb), quantileExactIf(0.99)(v, inb), avgIf(v, inb), stddevPopIf(v, inb)")


def _num(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if f != f else f


def _stats(row: Sequence[Any]) -> BaselineStats:
    n, med, mad, q01, q99, mean, sd = row
    return BaselineStats(count=int(n), median=_num(med), mad=_num(mad), q01=_num(q01), q99=_num(q99),
                         mean=_num(mean), stddev=_num(sd))


class ComparisonQueries:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    @staticmethod
    def _ranges(sql: Sql, query: Comparison, column: str) -> tuple[str, str]:
        """Restrict to the window and the baseline; return the bucket expression and the baseline flag."""
        b0, b1 = sql.param(query.baseline.start_ns, "Int64"), sql.param(query.baseline.end_ns, "Int64")
        w0, w1 = sql.param(query.window.start_ns, "Int64"), sql.param(query.window.end_ns, "Int64")
        sql.add(f"(({column} >= fromUnixTimestamp64Nano({b0}) AND {column} < fromUnixTimestamp64Nano({b1})) OR "
                f"({column} >= fromUnixTimestamp64Nano({w0}) AND {column} < fromUnixTimestamp64Nano({w1})))")
        sql.add(f"ServiceName IN {sql.param(list(query.services), 'Array(String)')}")
        step = sql.param(query.step_seconds, "UInt32")
        bucket = f"toUnixTimestamp(toStartOfInterval({column}, toIntervalSecond({step})))"
        return bucket, f"({column} >= fromUnixTimestamp64Nano({b0}) AND {column} < fromUnixTimestamp64Nano({b1}))"

    async def series(self, tenant_id: str, query: Comparison) -> list[SeriesProfile]:
        """Gauges and delta sums in one query; cumulative sums (which need each step's predecessor, a window
        function, so a sort) in another that reads only them."""
        plain, counters = await asyncio.gather(self._series(tenant_id, query, cumulative=False),
                                               self._series(tenant_id, query, cumulative=True))
        return (plain + counters)[: query.limit]

    async def _series(self, tenant_id: str, query: Comparison, *, cumulative: bool) -> list[SeriesProfile]:
        sql = Sql(tenant_id)
        bucket, inb = self._ranges(sql, query, "TimeUnix")
        sql.add("MetricType = 'sum' AND AggregationTemporality = 2" if cumulative else
                "(MetricType = 'gauge' OR (MetricType = 'sum' AND AggregationTemporality = 1))")
        step = sql.param(query.step_seconds, "UInt32")
        services = sql.param(list(query.services), "Array(String)")
        # 1: per series and step (grouped along the table's sort key): a gauge's average, a delta sum's total,
        # a cumulative sum's last value.
        per_step = (
            f"SELECT MetricName AS metric, ServiceName AS svc, SeriesId AS sid, any(MetricType) AS mtype, "
            f"{bucket} AS t, max({inb}) AS inb, "
            + ("argMax(Value, TimeUnix)" if cumulative else "if(mtype = 'gauge', avg(Value), sum(Value))")
            + f" AS v FROM otel_metrics WHERE {sql.clause} GROUP BY metric, svc, sid, t")
        if cumulative:
            # 2: the increase per step (a reset counts from zero; a gap is averaged over its steps).
            w = "OVER (PARTITION BY metric, svc, sid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
            per_step = (
                f"SELECT metric, svc, sid, mtype, t, inb, if(row_number() {w} = 1, nan, "
                f"if(v >= lagInFrame(v) {w}, v - lagInFrame(v) {w}, v) * {step} / "
                f"greatest(t - lagInFrame(t) {w}, {step})) AS v FROM ({per_step})")
        # A series' labels: its point attributes, and the resource attributes that tell replicas apart.
        instance = sql.param(list(INSTANCE_KEYS), "Array(String)")
        labels = ("SELECT MetricName AS metric, SeriesId AS sid, mapUpdate(any(Attributes), mapFilter((k, v) -> "
                  f"has({instance}, k), any(ResourceAttributes))) AS attrs FROM otel_metric_series "
                  f"WHERE TenantId = {{tenant:String}} AND ServiceName IN {services} GROUP BY metric, sid")
        rows = await self.ch.query(
            f"SELECT metric, svc, any(mtype), any(attrs), {_STATS}, arraySort(groupArrayIf((t, v), NOT inb)) "
            f"FROM ({per_step}) AS s ANY LEFT JOIN ({labels}) AS l USING (metric, sid) "
            "WHERE NOT isNaN(v) GROUP BY metric, svc, sid HAVING countIf(NOT inb) > 0 "
            f"ORDER BY metric, svc, sid LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [SeriesProfile(metric_name=r[0], service=r[1], metric_type=r[2], labels=dict(r[3] or {}),
                              baseline=_stats(r[4:11]),
                              points=[(int(t) * NS, _num(v)) for t, v in r[11]]) for r in rows]

    async def operations(self, tenant_id: str, query: Comparison) -> list[OperationProfile]:
        sql = Sql(tenant_id)
        bucket, inb = self._ranges(sql, query, "Timestamp")
        per_step = (
            f"SELECT ServiceName AS svc, SpanName AS op, {bucket} AS t, max({inb}) AS inb, count() AS spans, "
            "countIf(StatusCode = 'Error') AS errors, quantile(0.95)(Duration) / 1e6 AS v, "
            "anyIf(StatusMessage, StatusCode = 'Error') AS msg, anyIf(TraceId, StatusCode = 'Error') AS tid "
            f"FROM otel_traces WHERE {sql.clause} GROUP BY svc, op, t")
        rows = await self.ch.query(
            f"SELECT svc, op, sumIf(spans, inb), sumIf(errors, inb), {_STATS}, "
            "arraySort(groupArrayIf((t, spans, errors, v), NOT inb)), "
            "anyIf(msg, msg != '' AND NOT inb), anyIf(tid, tid != '' AND NOT inb) "
            f"FROM ({per_step}) GROUP BY svc, op HAVING countIf(NOT inb) > 0 ORDER BY svc, op "
            f"LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [OperationProfile(
            service=r[0], operation=r[1], baseline_spans=int(r[2]), baseline_errors=int(r[3]),
            baseline_p95_ms=_stats(r[4:11]),
            steps=[OperationStep(int(t) * NS, int(n), int(e), _num(p)) for t, n, e, p in r[11]],
            sample_status_message=r[12], sample_trace_id=r[13]) for r in rows]

    async def log_templates(self, tenant_id: str, query: Comparison,
                            rules: Sequence[tuple[str, str]]) -> list[LogTemplateProfile]:
        sql = Sql(tenant_id)
        bucket, inb = self._ranges(sql, query, "Timestamp")
        sql.add("SeverityNumber >= 17")
        expr = "Body"
        for pattern, replacement in rules:
            expr = f"replaceRegexpAll({expr}, {sql.param(pattern, 'String')}, {sql.param(replacement, 'String')})"
        rows = await self.ch.query(
            f"SELECT svc, tpl, sumIf(n, inb), arraySort(groupArrayIf((t, n), NOT inb)), minIf(first, NOT inb), "
            "maxIf(last, NOT inb), anyIf(sample, NOT inb), anyIf(tid, NOT inb AND tid != ''), max(sev) FROM ("
            f"SELECT ServiceName AS svc, substring({expr}, 1, 500) AS tpl, {bucket} AS t, max({inb}) AS inb, "
            "count() AS n, min(toUnixTimestamp64Nano(Timestamp)) AS first, max(toUnixTimestamp64Nano(Timestamp)) "
            "AS last, any(Body) AS sample, anyIf(TraceId, TraceId != '') AS tid, max(SeverityNumber) AS sev "
            f"FROM otel_logs WHERE {sql.clause} GROUP BY svc, tpl, t) GROUP BY svc, tpl HAVING countIf(NOT inb) > 0 "
            f"ORDER BY svc, tpl LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [LogTemplateProfile(
            service=r[0], template=r[1], baseline_count=int(r[2]),
            points=[(int(t) * NS, float(n)) for t, n in r[3]], first_ns=int(r[4]), last_ns=int(r[5]),
            sample=r[6], sample_trace_id=r[7], level=level_of(int(r[8]))) for r in rows]
