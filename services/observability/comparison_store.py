"""The ClickHouse queries behind a window comparison (see comparison.py). Each reads only the two time ranges
(window and baseline, which may be far apart), buckets by the step, and aggregates per series, operation or
error-log template in one pass. Every value is a bound parameter, as in store.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
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
_STATS = ("countIf(inb) AS n, quantilesExactIf(0.5, 0.01, 0.99)(v, inb) AS qs, qs[1] AS med, "
          "arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - med), groupArrayIf(v, inb))) AS mad, "
          "qs[2], qs[3], avgIf(v, inb), stddevPopIf(v, inb)")


def _num(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if f != f else f


def _stats(row: Sequence[Any]) -> BaselineStats:
    n, _qs, med, mad, q01, q99, mean, sd = row
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
        """Gauges and delta sums in one query, cumulative sums in another; the labels from the series index,
        joined here (a few hundred rows, not every point)."""
        plain, counters, labels = await asyncio.gather(self._series(tenant_id, query, cumulative=False),
                                                       self._series(tenant_id, query, cumulative=True),
                                                       self._labels(tenant_id, query))
        return [replace(s, labels=labels.get((s.metric_name, sid), {})) for sid, s in (plain + counters)][: query.limit]

    async def _labels(self, tenant_id: str, query: Comparison) -> dict[tuple[str, int], dict[str, str]]:
        """A series' labels: its point attributes, and the resource attributes that tell replicas apart."""
        sql = Sql(tenant_id)
        sql.add(f"ServiceName IN {sql.param(list(query.services), 'Array(String)')}")
        instance = sql.param(list(INSTANCE_KEYS), "Array(String)")
        rows = await self.ch.query(
            f"SELECT MetricName, SeriesId, mapUpdate(any(Attributes), mapFilter((k, v) -> has({instance}, k), "
            f"any(ResourceAttributes))) FROM otel_metric_series WHERE {sql.clause} GROUP BY MetricName, SeriesId",
            sql.params)
        return {(r[0], int(r[1])): dict(r[2]) for r in rows}

    async def _series(self, tenant_id: str, query: Comparison, *,
                      cumulative: bool) -> list[tuple[int, SeriesProfile]]:
        """The baseline's statistics over single observations (one pass over the baseline, no grouping by time);
        the window's values averaged per step. A gauge's observation is its value, a delta sum's its count per
        export; a cumulative sum's is its increase per second since the previous point (a reset counts from
        zero), which needs each point's predecessor (a window function, so a sort): its own query."""
        sql = Sql(tenant_id)
        b0, b1 = sql.param(query.baseline.start_ns, "Int64"), sql.param(query.baseline.end_ns, "Int64")
        w0, w1 = sql.param(query.window.start_ns, "Int64"), sql.param(query.window.end_ns, "Int64")
        in_baseline = f"TimeUnix >= fromUnixTimestamp64Nano({b0}) AND TimeUnix < fromUnixTimestamp64Nano({b1})"
        in_window = f"TimeUnix >= fromUnixTimestamp64Nano({w0}) AND TimeUnix < fromUnixTimestamp64Nano({w1})"
        sql.add(f"ServiceName IN {sql.param(list(query.services), 'Array(String)')}")
        sql.add("MetricType = 'sum' AND AggregationTemporality = 2" if cumulative else
                "(MetricType = 'gauge' OR (MetricType = 'sum' AND AggregationTemporality = 1))")
        step = sql.param(query.step_seconds, "UInt32")
        if cumulative:
            w = "OVER (PARTITION BY MetricName, ServiceName, SeriesId ORDER BY TimeUnix ROWS BETWEEN 1 PRECEDING " \
                "AND CURRENT ROW)"
            seconds = "toUnixTimestamp64Nano(TimeUnix) / 1e9"
            source = (
                f"SELECT * FROM (SELECT MetricName, ServiceName, SeriesId, 'rate' AS kind, TimeUnix, "
                f"if(row_number() {w} = 1, nan, if(Value >= lagInFrame(Value) {w}, Value - lagInFrame(Value) {w}, "
                f"Value) / greatest({seconds} - lagInFrame({seconds}) {w}, 1e-3)) AS obs FROM otel_metrics "
                f"WHERE {sql.clause} AND (({in_baseline}) OR ({in_window}))) WHERE NOT isNaN(obs)")
        else:
            source = ("SELECT MetricName, ServiceName, SeriesId, MetricType AS kind, TimeUnix, Value AS obs FROM otel_metrics "
                      f"WHERE {sql.clause} AND (({in_baseline}) OR ({in_window}))")
        baseline = (
            "SELECT MetricName, ServiceName, SeriesId, count() AS n, quantilesExact(0.5, 0.01, 0.99)(obs) AS qs, "
            "arrayReduce('quantileExact(0.5)', arrayMap(x -> abs(x - qs[1]), groupArray(obs))) AS mad, "
            f"avg(obs) AS mean, stddevPop(obs) AS sd FROM ({source}) WHERE {in_baseline} "
            "GROUP BY MetricName, ServiceName, SeriesId")
        window = (
            "SELECT MetricName, ServiceName, SeriesId, any(mtype) AS series_type, arraySort(groupArray((t, v))) AS points "
            f"FROM (SELECT MetricName, ServiceName, SeriesId, any(kind) AS mtype, "
            f"toUnixTimestamp(toStartOfInterval(TimeUnix, toIntervalSecond({step}))) AS t, avg(obs) AS v "
            f"FROM ({source}) WHERE {in_window} GROUP BY MetricName, ServiceName, SeriesId, t) "
            "GROUP BY MetricName, ServiceName, SeriesId")
        rows = await self.ch.query(
            f"SELECT w.MetricName, w.ServiceName, w.SeriesId, w.series_type, b.n, b.qs, b.mad, b.mean, b.sd, w.points "
            f"FROM ({window}) AS w LEFT JOIN ({baseline}) AS b "
            "ON b.MetricName = w.MetricName AND b.ServiceName = w.ServiceName AND b.SeriesId = w.SeriesId "
            f"ORDER BY w.MetricName, w.ServiceName, w.SeriesId LIMIT {sql.param(query.limit, 'UInt32')}",
            sql.params)
        out = []
        for metric, svc, sid, kind, n, qs, mad, mean, sd, points in rows:
            qs = list(qs) if qs else [0.0, 0.0, 0.0]
            out.append((int(sid), SeriesProfile(
                metric_name=metric, service=svc, metric_type=kind, labels={},
                baseline=BaselineStats(count=int(n or 0), median=_num(qs[0]), mad=_num(mad), q01=_num(qs[1]),
                                       q99=_num(qs[2]), mean=_num(mean), stddev=_num(sd)),
                points=[(int(t) * NS, _num(v)) for t, v in points])))
        return out

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
            baseline_p95_ms=_stats(r[4:12]),
            steps=[OperationStep(int(t) * NS, int(n), int(e), _num(p)) for t, n, e, p in r[12]],
            sample_status_message=r[13], sample_trace_id=r[14]) for r in rows]

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
