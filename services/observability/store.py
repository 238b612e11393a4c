"""Persistence of the observability service: telemetry in ClickHouse through clickhouse-connect, the same SQL
and client code on the embedded chDB engine (`chdb:///path`) and on a ClickHouse server (`http://...`).

The client is synchronous, so every call runs on a small thread pool, never on the event loop. chDB serialises
the calls of one client handle, so the pool holds one client per thread (clients on one chDB path share the
engine). Every query is scoped by TenantId (the first column of every sort key) and every value is a bound
parameter (`{name:Type}`); the only identifiers composed into SQL come from fixed whitelists in this file.

The SQL side (outbox and consumer dedup tables) is there because every service has it; telemetry never
touches it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import clickhouse_connect
import sqlalchemy as sa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from services.observability.service import (
    QUANTILES,
    SERVICE_LABEL,
    AnomalyQuery,
    ErrorCluster,
    ErrorOperation,
    LogQuery,
    LogRecord,
    MetricQuery,
    Series,
    SeriesStats,
    Span,
    TimeRange,
    TraceQuery,
    TraceSummary,
    histogram_quantile,
)
from vigil import levels
from vigil.runtime import outbox
from vigil.runtime.errors import FieldError, ValidationFailed

log = logging.getLogger("vigil.observability.store")

metadata = sa.MetaData()
outbox_table, processed_events = outbox.define_tables(metadata)

CLICKHOUSE_MIGRATIONS = Path(__file__).with_name("migrations") / "clickhouse"
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
TABLES = {"logs": "otel_logs", "metrics": "otel_metrics", "traces": "otel_traces"}
_CANNOT_COMPILE_REGEXP = re.compile(r"\bCode: 427\b")
T = TypeVar("T")


def open_client(url: str) -> Client:
    if url.startswith("chdb://"):
        return clickhouse_connect.get_client(dsn=url)
    return clickhouse_connect.get_client(dsn=url, compress=True)


def chdb_path(url: str) -> Path | None:
    return Path(url.removeprefix("chdb://")) if url.startswith("chdb://") else None


class ClickHouse:
    """A pool of clickhouse-connect clients behind async methods."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        path = chdb_path(url)
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        self._clients: queue.SimpleQueue[Client] = queue.SimpleQueue()
        self._all: list[Client] = []
        self._lock = threading.Lock()
        self._pool_size = pool_size
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="clickhouse")

    @contextmanager
    def _client(self):
        try:
            client = self._clients.get_nowait()
        except queue.Empty:
            with self._lock:
                client = open_client(self.url)
                self._all.append(client)
        try:
            yield client
        finally:
            self._clients.put(client)

    async def run(self, fn: Callable[[Client], T]) -> T:
        def call() -> T:
            with self._client() as client:
                return fn(client)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def query(self, sql: str, parameters: dict[str, Any] | None = None,
                    settings: dict[str, Any] | None = None) -> list[tuple]:
        return await self.run(lambda c: c.query(sql, parameters=parameters or {}, settings=settings).result_rows)

    async def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return await self.run(lambda c: c.command(sql, parameters=parameters or {}))

    async def insert_json_rows(self, table: str, block: bytes, token: str) -> None:
        """One INSERT of newline-delimited JSON rows. The token makes a repeat of the same batch a no-op
        (ClickHouse insert deduplication: replicated tables always, MergeTree through its dedup window)."""
        settings = {"insert_deduplication_token": token, "insert_deduplicate": 1,
                    "input_format_skip_unknown_fields": 0}
        await self.run(lambda c: c.raw_insert(table, insert_block=block, fmt="JSONEachRow", settings=settings))

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        for client in self._all:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


def migration_files(directory: Path = CLICKHOUSE_MIGRATIONS) -> list[tuple[int, str, Path]]:
    """The numbered migrations, gaps and duplicates refused (the same rule as the SQL services')."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_<name>.sql")
        found.append((int(match.group(1)), path.stem, path))
    numbers = [n for n, _, _ in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"duplicate migration numbers in {directory}")
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migration numbers in {directory} have a gap: {numbers}")
    return found


def statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


async def migrate(ch: ClickHouse, directory: Path = CLICKHOUSE_MIGRATIONS) -> list[int]:
    """Apply the migrations not yet recorded in schema_migrations; returns the versions applied now.
    Every statement is idempotent (IF NOT EXISTS), so a crash half way through re-runs cleanly."""
    files = migration_files(directory)
    await ch.command("CREATE TABLE IF NOT EXISTS schema_migrations (Version UInt32, Name String, "
                     "AppliedAt DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY Version")
    done = {int(r[0]) for r in await ch.query("SELECT Version FROM schema_migrations FINAL")}
    unknown = done - {n for n, _, _ in files}
    if unknown:
        raise RuntimeError(f"ClickHouse has migrations this code does not know: {sorted(unknown)}")
    applied = []
    for number, name, path in files:
        if number in done:
            continue
        for stmt in statements(path.read_text()):
            await ch.command(stmt)
        await ch.command("INSERT INTO schema_migrations (Version, Name) VALUES ({v:UInt32}, {n:String})",
                         {"v": number, "n": name})
        applied.append(number)
        log.info("clickhouse migration %s applied", name)
    return applied


# -- query building: fragments with bound parameters ----------------------------------------------------------


class Sql:
    """WHERE clauses and their parameters, built together so no value is ever spliced into the text."""

    def __init__(self, tenant_id: str) -> None:
        self.params: dict[str, Any] = {"tenant": tenant_id}
        self.where: list[str] = ["TenantId = {tenant:String}"]
        self._n = 0

    def param(self, value: Any, type_: str) -> str:
        self._n += 1
        name = f"p{self._n}"
        self.params[name] = value
        return "{" + f"{name}:{type_}" + "}"

    def add(self, clause: str) -> None:
        self.where.append(clause)

    @property
    def clause(self) -> str:
        return " AND ".join(self.where)


def _window(sql: Sql, column: str, start_ns: int, end_ns: int, seconds_column: str | None = None) -> None:
    # The second-resolution column is in the sort key; filtering it too lets ClickHouse skip granules.
    if seconds_column:
        sql.add(f"{seconds_column} >= toDateTime({sql.param(start_ns // 1_000_000_000, 'Int64')})")
        sql.add(f"{seconds_column} <= toDateTime({sql.param(end_ns // 1_000_000_000, 'Int64')})")
    sql.add(f"{column} >= fromUnixTimestamp64Nano({sql.param(start_ns, 'Int64')})")
    sql.add(f"{column} < fromUnixTimestamp64Nano({sql.param(end_ns, 'Int64')})")


# Unicode case folding for text search, the same expression as the BodySearch column (migration 0009): full case
# folding, and the Turkish dotless i and dotted capital I (folded to i + a combining dot) read as a plain i.
FOLD = "replaceAll(translateUTF8(caseFoldUTF8({}), '\\xC4\\xB1', 'i'), 'i\\xCC\\x87', 'i')"


def _contains(sql: Sql, column: str, text: str) -> str:
    """`column` (already folded) contains `text` folded the same way; LIKE wildcards in the text are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{column} LIKE {FOLD.format(sql.param(f'%{escaped}%', 'String'))}"


def _label_expr(sql: Sql, label: str) -> str:
    """A label of a series in the series index: `service` is the service name; any other name is the point
    attribute of that name, or else the resource attribute (`host.name`, `service.instance.id`, ...)."""
    if label == SERVICE_LABEL:
        return "ServiceName"
    name = sql.param(label, "String")
    return f"if(mapContains(Attributes, {name}), Attributes[{name}], ResourceAttributes[{name}])"


_SERIES_AGG = {"sum": "sum", "avg": "avg", "max": "max", "min": "min", "count": "count"}


class TelemetryStore:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    # -- logs

    async def logs(self, tenant_id: str, query: LogQuery) -> list[LogRecord]:
        sql = Sql(tenant_id)
        _window(sql, "Timestamp", query.window.start_ns, query.window.end_ns, "TimestampTime")
        if query.services:
            sql.add(f"ServiceName IN {sql.param(list(query.services), 'Array(String)')}")
        if query.levels:
            bands = sorted({levels.LEVELS.index(levels.level_name(x)) for x in query.levels})
            sql.add(f"intDiv(SeverityNumber - 1, 4) IN {sql.param(bands, 'Array(UInt8)')}")
            sql.add("SeverityNumber > 0")
        if query.q:
            sql.add(_contains(sql, "BodySearch", query.q))
        if query.trace_id:
            sql.add(f"TraceId = {sql.param(query.trace_id, 'String')}")
        if query.cursor is not None:
            # Keyset: the rows after the cursor's (Timestamp, RecordId) in the descending order.
            at = sql.param(query.cursor.ts_ns, "Int64")
            sql.add(f"TimestampTime <= toDateTime(intDiv({at}, 1000000000))")
            sql.add(f"Timestamp <= fromUnixTimestamp64Nano({at})")
            sql.add(f"(Timestamp < fromUnixTimestamp64Nano({at}) OR RecordId < {sql.param(query.cursor.record_id, 'UInt64')})")
        rows = await self.ch.query(
            "SELECT toUnixTimestamp64Nano(Timestamp), RecordId, ServiceName, SeverityText, SeverityNumber, Body, "
            "TraceId, SpanId, LogAttributes, ResourceAttributes, ScopeName FROM otel_logs WHERE " + sql.clause +
            f" ORDER BY Timestamp DESC, RecordId DESC LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [LogRecord(ts_ns=int(r[0]), record_id=int(r[1]), service=r[2],
                          level=levels.level_of(int(r[4])) or r[3].lower(), severity_number=int(r[4]), body=r[5],
                          trace_id=r[6], span_id=r[7], attributes=dict(r[8]), resource=dict(r[9]), scope_name=r[10])
                for r in rows]

    # -- metrics

    def _metric_filter(self, tenant_id: str, query: MetricQuery) -> Sql:
        sql = Sql(tenant_id)
        name = sql.param(query.metric_name, "String")
        sql.add(f"MetricName = {name}")
        _window(sql, "TimeUnix", query.window.start_ns, query.window.end_ns)
        if query.service:
            sql.add(f"ServiceName = {sql.param(query.service, 'String')}")
        if query.matchers:
            # Label matchers select series in the series index; the points are then found by SeriesId (in the
            # sort key) without reading their attribute maps.
            conds = []
            for m in query.matchers:
                expr = _label_expr(sql, m.label)
                value = sql.param(m.value, "String")
                conds.append({"=": f"{expr} = {value}", "!=": f"{expr} != {value}", "=~": f"match({expr}, {value})",
                              "!~": f"NOT match({expr}, {value})"}[m.op])
            sql.add("SeriesId IN (SELECT SeriesId FROM otel_metric_series WHERE TenantId = {tenant:String} "
                    f"AND MetricName = {name} AND {' AND '.join(conds)})")
        return sql

    async def metric_kind(self, tenant_id: str, query: MetricQuery) -> tuple[str, int]:
        sql = Sql(tenant_id)
        sql.add(f"MetricName = {sql.param(query.metric_name, 'String')}")
        _window(sql, "TimeUnix", query.window.start_ns, query.window.end_ns)
        rows = await self.ch.query("SELECT MetricType, AggregationTemporality FROM otel_metrics WHERE "
                                   + sql.clause + " LIMIT 1", sql.params)
        return (rows[0][0], int(rows[0][1])) if rows else ("", 0)

    async def metrics(self, tenant_id: str, query: MetricQuery, metric_type: str) -> list[Series]:
        """Per series and step first (from SeriesId, TimeUnix and the value columns only), then across the
        series of each label group, the labels coming from the series index."""
        sql = self._metric_filter(tenant_id, query)
        step = sql.param(query.step_seconds, "UInt32")
        bucket = f"toStartOfInterval(TimeUnix, toIntervalSecond({step}))"
        names = [f"g{i}" for i in range(len(query.group_by))]
        gcols = "".join(f", {n}" for n in names)
        order = ", ".join([*names, "t"])
        join = ""
        if names:
            labels = ", ".join(f"any({_label_expr(sql, g)}) AS {n}" for g, n in zip(query.group_by, names, strict=True))
            join = (f" ANY LEFT JOIN (SELECT SeriesId, {labels} FROM otel_metric_series WHERE TenantId = {{tenant:String}} "
                    f"AND MetricName = {sql.param(query.metric_name, 'String')} GROUP BY SeriesId) AS labels USING SeriesId")
        start = sql.param(query.window.start_ns, "Int64")
        # First point of a series in the window: its whole value counts only if the series started inside the
        # window (OTLP start time); otherwise nothing is known about what came before it.
        first = f"StartTimeUnix >= fromUnixTimestamp64Nano({start})"
        w = "OVER (PARTITION BY SeriesId ORDER BY TimeUnix ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
        where = f"FROM otel_metrics WHERE {sql.clause}"
        if query.aggregation in _SERIES_AGG and metric_type != "histogram":
            # Per series and step its last value (an instant vector), then the aggregation across series.
            inner = f"SELECT {bucket} AS t, SeriesId, argMax(Value, TimeUnix) AS v {where} GROUP BY t, SeriesId"
            value = f"toFloat64({_SERIES_AGG[query.aggregation]}(v))"
        elif query.aggregation in _SERIES_AGG:  # count of a histogram: observations per step
            inner = (f"SELECT {bucket} AS t, SeriesId, if(AggregationTemporality = 1, toFloat64(Count), "
                     f"if(row_number() {w} = 1, if({first}, toFloat64(Count), 0), "
                     f"if(Count >= lagInFrame(Count) {w}, toFloat64(Count - lagInFrame(Count) {w}), "
                     f"toFloat64(Count)))) AS v {where}")
            value = "sum(v)"
        elif query.aggregation == "rate":
            inner = (f"SELECT {bucket} AS t, SeriesId, if(AggregationTemporality = 1, Value, "
                     f"if(row_number() {w} = 1, if({first}, Value, 0), "
                     f"if(Value >= lagInFrame(Value) {w}, Value - lagInFrame(Value) {w}, Value))) AS v {where}")
            value = f"sum(v) / {step}"
        else:
            inner = (f"SELECT {bucket} AS t, SeriesId, ExplicitBounds, if(AggregationTemporality = 1, BucketCounts, "
                     f"if(row_number() {w} = 1, if({first}, BucketCounts, arrayMap(x -> toUInt64(0), BucketCounts)), "
                     f"if(length(lagInFrame(BucketCounts) {w}) = length(BucketCounts) "
                     f"AND arrayAll((x, y) -> x >= y, BucketCounts, lagInFrame(BucketCounts) {w}), "
                     f"arrayMap((x, y) -> toUInt64(x - y), BucketCounts, lagInFrame(BucketCounts) {w}), "
                     f"BucketCounts))) AS v {where}")
            value = "any(ExplicitBounds), sumForEach(v)"
        try:
            rows = await self.ch.query(
                f"SELECT toUnixTimestamp(t){gcols}, {value} FROM ({inner}) AS points{join} GROUP BY t{gcols} "
                f"ORDER BY {order}", sql.params)
        except DatabaseError as exc:
            # A matcher that Python's re compiles but RE2 does not (lookarounds, backreferences, repetitions
            # over 1000): ClickHouse refuses it with CANNOT_COMPILE_REGEXP, the caller's mistake, not ours.
            if _CANNOT_COMPILE_REGEXP.search(str(exc)):
                raise ValidationFailed("invalid metrics query", [FieldError(
                    "label", "invalid regular expression: not RE2 syntax (no lookarounds or backreferences, "
                    "repetitions up to 1000)")]) from None
            raise
        if query.aggregation in QUANTILES:
            q = QUANTILES[query.aggregation]
            return _series(rows, query.group_by, lambda r: histogram_quantile(q, list(r[-2]), list(r[-1])),
                           drop_none=True)
        return _series(rows, query.group_by, lambda r: float(r[-1]))

    # -- traces

    async def trace_snapshot(self, tenant_id: str, window: TimeRange) -> int:
        """The newest insert block holding spans of the tenant in the window. Block numbers are persisted per
        row (enable_block_number_column) and handed out in commit order, so a later insert has a higher one."""
        sql = Sql(tenant_id)
        _window(sql, "Timestamp", window.start_ns, window.end_ns)
        rows = await self.ch.query(f"SELECT max(_block_number) FROM otel_traces WHERE {sql.clause}", sql.params)
        return int(rows[0][0]) if rows else 0

    async def traces(self, tenant_id: str, query: TraceQuery) -> list[TraceSummary]:
        sql = Sql(tenant_id)
        _window(sql, "Timestamp", query.window.start_ns, query.window.end_ns)
        if query.snapshot:
            sql.add(f"_block_number <= {sql.param(query.snapshot, 'UInt64')}")
        if query.service or query.operation:
            inner = Sql(tenant_id)
            inner._n = 1000  # distinct parameter names in the subquery
            _window(inner, "Timestamp", query.window.start_ns, query.window.end_ns)
            if query.snapshot:
                inner.add(f"_block_number <= {inner.param(query.snapshot, 'UInt64')}")
            if query.service:
                inner.add(f"ServiceName = {inner.param(query.service, 'String')}")
            if query.operation:
                inner.add(f"SpanName = {inner.param(query.operation, 'String')}")
            sql.params.update(inner.params)
            sql.add(f"TraceId IN (SELECT TraceId FROM otel_traces WHERE {inner.clause})")
        having = []
        if query.min_duration_ns:
            having.append(f"duration >= {sql.param(query.min_duration_ns, 'Int64')}")
        if query.status == "error":
            having.append("errors > 0")
        elif query.status == "ok":
            having.append("errors = 0")
        if query.cursor is not None:
            c_ts = sql.param(query.cursor.start_ns, "Int64")
            c_id = sql.param(query.cursor.trace_id, "String")
            having.append(f"(start < {c_ts} OR (start = {c_ts} AND TraceId > {c_id}))")
        rows = await self.ch.query(
            "SELECT TraceId, min(toUnixTimestamp64Nano(Timestamp)) AS start, "
            "max(toUnixTimestamp64Nano(Timestamp) + Duration) - start AS duration, "
            "argMinIf(ServiceName, Timestamp, ParentSpanId = '') AS root_service, "
            "argMinIf(SpanName, Timestamp, ParentSpanId = '') AS root_name, "
            "count() AS spans, countIf(StatusCode = 'Error') AS errors, arraySort(groupUniqArray(ServiceName)) "
            f"FROM otel_traces WHERE {sql.clause} AND TraceId != '' GROUP BY TraceId"
            + (" HAVING " + " AND ".join(having) if having else "")
            + f" ORDER BY start DESC, TraceId LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [TraceSummary(trace_id=r[0], start_ns=int(r[1]), duration_ns=int(r[2]), root_service=r[3],
                             root_name=r[4], span_count=int(r[5]), error_count=int(r[6]), services=tuple(r[7]))
                for r in rows]

    async def trace_spans(self, tenant_id: str, trace_id: str) -> list[Span]:
        bounds = await self.ch.query(
            "SELECT toUnixTimestamp(min(Start)), toUnixTimestamp(max(End)) FROM otel_traces_trace_id_ts WHERE TenantId = {t:String} AND "
            "TraceId = {id:String} HAVING count() > 0", {"t": tenant_id, "id": trace_id})
        sql = Sql(tenant_id)
        sql.add(f"TraceId = {sql.param(trace_id, 'String')}")
        if bounds:
            # DateTime64 against DateTime64: a DateTime bound here trips the key analysis over toDateTime(Timestamp)
            # in the sort key and prunes every granule.
            _window(sql, "Timestamp", int(bounds[0][0]) * 1_000_000_000, (int(bounds[0][1]) + 1) * 1_000_000_000)
        rows = await self.ch.query(
            "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, "
            "toUnixTimestamp64Nano(Timestamp), Duration, StatusCode, StatusMessage, SpanAttributes, "
            "ResourceAttributes, arrayMap(x -> toUnixTimestamp64Nano(x), `Events.Timestamp`), `Events.Name`, "
            f"`Events.Attributes` FROM otel_traces WHERE {sql.clause} ORDER BY Timestamp LIMIT 10000", sql.params)
        seen: dict[str, Span] = {}
        for r in rows:
            seen.setdefault(r[1], Span(
                trace_id=r[0], span_id=r[1], parent_span_id=r[2], name=r[3], kind=r[4], service=r[5],
                start_ns=int(r[6]), duration_ns=int(r[7]), status_code=r[8], status_message=r[9],
                attributes=dict(r[10]), resource=dict(r[11]),
                events=[(int(ts), name, dict(attrs)) for ts, name, attrs in zip(r[12], r[13], r[14], strict=False)]))
        return list(seen.values())

    # -- anomalies

    def _anomaly_filter(self, sql: Sql, query: AnomalyQuery, start_ns: int, end_ns: int, column: str,
                        seconds_column: str | None = None) -> None:
        _window(sql, column, start_ns, end_ns, seconds_column)
        if query.services:
            sql.add(f"ServiceName IN {sql.param(list(query.services), 'Array(String)')}")

    async def error_clusters(self, tenant_id: str, query: AnomalyQuery,
                             rules: Sequence[tuple[str, str]]) -> list[ErrorCluster]:
        sql = Sql(tenant_id)
        self._anomaly_filter(sql, query, query.window.start_ns, query.window.end_ns, "Timestamp", "TimestampTime")
        sql.add("SeverityNumber >= 17")
        expr = "Body"
        for pattern, replacement in rules:
            expr = f"replaceRegexpAll({expr}, {sql.param(pattern, 'String')}, {sql.param(replacement, 'String')})"
        rows = await self.ch.query(
            f"SELECT ServiceName, substring({expr}, 1, 500) AS tpl, count() AS n, "
            "min(toUnixTimestamp64Nano(Timestamp)), max(toUnixTimestamp64Nano(Timestamp)), any(Body), "
            "anyIf(TraceId, TraceId != ''), max(SeverityNumber) "
            f"FROM otel_logs WHERE {sql.clause} GROUP BY ServiceName, tpl ORDER BY n DESC, ServiceName, tpl "
            f"LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [ErrorCluster(service=r[0], template=r[1], count=int(r[2]), first_ns=int(r[3]), last_ns=int(r[4]),
                             sample=r[5], sample_trace_id=r[6], level=levels.level_of(int(r[7]))) for r in rows]

    async def series_stats(self, tenant_id: str, query: AnomalyQuery) -> list[SeriesStats]:
        sql = Sql(tenant_id)
        base = query.baseline
        self._anomaly_filter(sql, query, base.start_ns, query.window.end_ns, "TimeUnix")
        # Gauges and delta sums compare values; cumulative counters only ever grow, so they are left out.
        sql.add("(MetricType = 'gauge' OR (MetricType = 'sum' AND AggregationTemporality = 1))")
        split = f"fromUnixTimestamp64Nano({sql.param(query.window.start_ns, 'Int64')})"
        rows = await self.ch.query(
            f"SELECT MetricName, ServiceName, any(Attributes), any(ResourceAttributes), avgIf(Value, TimeUnix < {split}), "
            f"stddevPopIf(Value, TimeUnix < {split}), countIf(TimeUnix < {split}), "
            f"maxIf(Value, TimeUnix >= {split}), argMaxIf(toUnixTimestamp64Nano(TimeUnix), Value, TimeUnix >= {split}), "
            f"minIf(Value, TimeUnix >= {split}), argMinIf(toUnixTimestamp64Nano(TimeUnix), Value, TimeUnix >= {split}) "
            f"FROM otel_metrics WHERE {sql.clause} GROUP BY MetricName, ServiceName, SeriesId "
            f"HAVING countIf(TimeUnix >= {split}) > 0 LIMIT 10000", sql.params)
        return [SeriesStats(metric_name=r[0], service=r[1], labels=dict(r[2]), resource=dict(r[3]),
                            baseline_mean=_num(r[4]), baseline_stddev=_num(r[5]), baseline_points=int(r[6]),
                            window_max=_num(r[7]), window_max_ns=int(r[8]), window_min=_num(r[9]),
                            window_min_ns=int(r[10])) for r in rows]

    async def error_operations(self, tenant_id: str, query: AnomalyQuery) -> list[ErrorOperation]:
        sql = Sql(tenant_id)
        self._anomaly_filter(sql, query, query.window.start_ns, query.window.end_ns, "Timestamp")
        rows = await self.ch.query(
            "SELECT ServiceName, SpanName, countIf(StatusCode = 'Error') AS errors, count(), "
            "anyIf(StatusMessage, StatusCode = 'Error'), anyIf(TraceId, StatusCode = 'Error') "
            f"FROM otel_traces WHERE {sql.clause} GROUP BY ServiceName, SpanName HAVING errors > 0 "
            f"ORDER BY errors DESC, ServiceName, SpanName LIMIT {sql.param(query.limit, 'UInt32')}", sql.params)
        return [ErrorOperation(service=r[0], operation=r[1], error_count=int(r[2]), span_count=int(r[3]),
                               sample_status_message=r[4], sample_trace_id=r[5]) for r in rows]


def _num(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if f != f else f  # NaN (no baseline points) reads as 0


def _series(rows: list[tuple], group_by: Sequence[str], value: Callable[[tuple], float | None],
            drop_none: bool = False) -> list[Series]:
    out: dict[tuple, Series] = {}
    for r in rows:
        key = tuple(r[1: 1 + len(group_by)])
        series = out.get(key)
        if series is None:
            series = out[key] = Series(labels=dict(zip(group_by, key, strict=True)), points=[])
        v = value(r)
        if v is None and drop_none:
            continue
        series.points.append((int(r[0]) * 1_000_000_000, float(v) if v is not None else 0.0))
    return list(out.values())
