"""Observability domain logic: what a valid telemetry query is, cursors, histogram quantiles, error-message
templates and the baseline test for metric anomalies. No gRPC, SQL or Kafka here; the store runs the queries
these objects describe."""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field, replace
from typing import Protocol

import orjson

from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed

NS = 1_000_000_000
# OTel severity numbers: each level owns four numbers (TRACE 1-4 ... FATAL 21-24).
LEVELS: dict[str, int] = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4, "fatal": 5}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WINDOW_NS = 31 * 86400 * NS  # one query reads at most a month of partitions
STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_POINTS = 11_000  # per series, as Prometheus
AGGREGATIONS = ("sum", "avg", "max", "min", "count", "rate", "p50", "p90", "p99")
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
MATCH_OPS = ("=", "!=", "=~", "!~")
MAX_LABELS = 10
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
TRACE_STATUSES = ("", "error", "ok")
# Label names are bound as parameters anyway; this keeps them to what OTel attribute keys look like.
LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,127}$")
SERVICE_LABEL = "service"
Z_THRESHOLD = 3.0
MIN_BASELINE_POINTS = 5


def level_of(severity_number: int) -> str:
    if severity_number <= 0:
        return ""
    return list(LEVELS)[min((severity_number - 1) // 4, 5)]


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class LogCursor:
    """Keyset position in a newest-first list: rows at `ts_ns` already returned (`skip`), older ones not yet."""

    ts_ns: int
    skip: int


@dataclass(frozen=True, slots=True)
class LogQuery:
    window: TimeRange
    services: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    q: str = ""
    trace_id: str = ""
    limit: int = DEFAULT_LIMIT
    cursor: LogCursor | None = None


@dataclass(frozen=True, slots=True)
class LogRecord:
    ts_ns: int
    service: str
    level: str
    severity_number: int
    body: str
    trace_id: str
    span_id: str
    attributes: dict[str, str]
    resource: dict[str, str]
    scope_name: str


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class MetricQuery:
    metric_name: str
    window: TimeRange
    step_seconds: int
    aggregation: str
    group_by: tuple[str, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    service: str = ""


@dataclass(frozen=True, slots=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[int, float]]  # (bucket start ns, value)


@dataclass(frozen=True, slots=True)
class MetricResult:
    metric_name: str
    metric_type: str
    aggregation: str
    step_seconds: int
    series: list[Series]


@dataclass(frozen=True, slots=True)
class TraceCursor:
    start_ns: int
    trace_id: str


@dataclass(frozen=True, slots=True)
class TraceQuery:
    window: TimeRange
    service: str = ""
    operation: str = ""
    min_duration_ns: int = 0
    status: str = ""
    limit: int = DEFAULT_LIMIT
    cursor: TraceCursor | None = None


@dataclass(frozen=True, slots=True)
class TraceSummary:
    trace_id: str
    root_service: str
    root_name: str
    start_ns: int
    duration_ns: int
    span_count: int
    error_count: int
    services: tuple[str, ...]


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start_ns: int
    duration_ns: int
    status_code: str
    status_message: str
    attributes: dict[str, str]
    resource: dict[str, str]
    events: list[tuple[int, str, dict[str, str]]]
    children: list[Span] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AnomalyQuery:
    window: TimeRange
    services: tuple[str, ...] = ()
    limit: int = 20

    @property
    def baseline(self) -> TimeRange:
        """The window's own length just before it: what 'normal' looked like."""
        length = self.window.end_ns - self.window.start_ns
        return TimeRange(self.window.start_ns - length, self.window.start_ns)


@dataclass(frozen=True, slots=True)
class ErrorCluster:
    service: str
    template: str
    count: int
    first_ns: int
    last_ns: int
    sample: str
    sample_trace_id: str
    level: str


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """One metric series' baseline statistics and its most extreme value inside the window."""

    metric_name: str
    service: str
    labels: dict[str, str]
    baseline_mean: float
    baseline_stddev: float
    baseline_points: int
    window_max: float
    window_max_ns: int
    window_min: float
    window_min_ns: int


@dataclass(frozen=True, slots=True)
class MetricAnomaly:
    metric_name: str
    service: str
    labels: dict[str, str]
    baseline_mean: float
    baseline_stddev: float
    observed: float
    z_score: float
    at_ns: int


@dataclass(frozen=True, slots=True)
class ErrorOperation:
    service: str
    operation: str
    error_count: int
    span_count: int
    sample_status_message: str
    sample_trace_id: str


@dataclass(frozen=True, slots=True)
class Anomalies:
    error_clusters: list[ErrorCluster]
    metric_anomalies: list[MetricAnomaly]
    error_operations: list[ErrorOperation]


class Store(Protocol):
    async def logs(self, tenant_id: str, query: LogQuery) -> list[LogRecord]: ...
    async def metric_kind(self, tenant_id: str, query: MetricQuery) -> tuple[str, int]: ...
    async def metrics(self, tenant_id: str, query: MetricQuery, metric_type: str) -> list[Series]: ...
    async def traces(self, tenant_id: str, query: TraceQuery) -> list[TraceSummary]: ...
    async def trace_spans(self, tenant_id: str, trace_id: str) -> list[Span]: ...
    async def error_clusters(self, tenant_id: str, query: AnomalyQuery,
                             rules: tuple[tuple[str, str], ...]) -> list[ErrorCluster]: ...
    async def series_stats(self, tenant_id: str, query: AnomalyQuery) -> list[SeriesStats]: ...
    async def error_operations(self, tenant_id: str, query: AnomalyQuery) -> list[ErrorOperation]: ...


# -- validation -----------------------------------------------------------------------------------------------


def check_window(errors: list[FieldError], window: TimeRange, start: str, end: str,
                 max_ns: int = MAX_WINDOW_NS) -> None:
    if window.start_ns <= 0:
        errors.append(FieldError(start, "is required"))
    if window.end_ns <= 0:
        errors.append(FieldError(end, "is required"))
    if window.start_ns > 0 and window.end_ns > 0:
        if window.end_ns <= window.start_ns:
            errors.append(FieldError(end, f"must be after {start}"))
        elif window.end_ns - window.start_ns > max_ns:
            errors.append(FieldError(end, f"the window from {start} to {end} may span at most "
                                          f"{max_ns // (86400 * NS)} days"))


def _check_limit(errors: list[FieldError], limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))


def _check_text(errors: list[FieldError], name: str, value: str, limit: int = 256) -> None:
    if len(value) > limit:
        errors.append(FieldError(name, f"must be at most {limit} characters"))


def validate_logs(query: LogQuery) -> None:
    errors: list[FieldError] = []
    check_window(errors, query.window, "from", "to")
    _check_limit(errors, query.limit)
    for level in query.levels:
        if level not in LEVELS:
            errors.append(FieldError("level", f"unknown level {level!r}; one of {', '.join(LEVELS)}"))
    if len(query.services) > 50:
        errors.append(FieldError("service", "at most 50 services"))
    for s in query.services:
        _check_text(errors, "service", s)
    _check_text(errors, "q", query.q, 500)
    if query.trace_id and not TRACE_ID.match(query.trace_id):
        errors.append(FieldError("trace_id", "must be 32 lowercase hex characters"))
    if errors:
        raise ValidationFailed("invalid log query", errors)


def validate_metrics(query: MetricQuery) -> None:
    errors: list[FieldError] = []
    if not query.metric_name:
        errors.append(FieldError("metric_name", "is required"))
    _check_text(errors, "metric_name", query.metric_name)
    check_window(errors, query.window, "start", "end")
    if query.step_seconds not in STEPS:
        errors.append(FieldError("step", "unknown step; one of " + ", ".join(format_step(s) for s in STEPS)))
    elif query.window.end_ns > query.window.start_ns > 0:
        points = (query.window.end_ns - query.window.start_ns) // (query.step_seconds * NS)
        if points > MAX_POINTS:
            errors.append(FieldError("step", f"{points} points per series; at most {MAX_POINTS} (widen the step)"))
    if query.aggregation not in AGGREGATIONS:
        errors.append(FieldError("aggregation", f"must be one of {', '.join(AGGREGATIONS)}"))
    if len(query.group_by) > MAX_LABELS:
        errors.append(FieldError("by", f"at most {MAX_LABELS} labels"))
    for label in query.group_by:
        if not LABEL.match(label):
            errors.append(FieldError("by", f"invalid label name {label[:64]!r}"))
    if len(query.matchers) > MAX_LABELS:
        errors.append(FieldError("label", f"at most {MAX_LABELS} matchers"))
    for m in query.matchers:
        if not LABEL.match(m.label):
            errors.append(FieldError("label", f"invalid label name {m.label[:64]!r}"))
        if m.op not in MATCH_OPS:
            errors.append(FieldError("label", f"operator must be one of {', '.join(MATCH_OPS)}"))
        _check_text(errors, "label", m.value)
        if m.op in ("=~", "!~"):
            try:
                re.compile(m.value)
            except re.error as exc:
                errors.append(FieldError("label", f"invalid regular expression: {exc}"))
    _check_text(errors, "service", query.service)
    if errors:
        raise ValidationFailed("invalid metrics query", errors)


def check_aggregation(aggregation: str, metric_type: str) -> None:
    """Counters have rates, histograms have quantiles; anything else is a 422 naming the aggregation."""
    if aggregation == "rate" and metric_type != "sum":
        raise ValidationFailed("invalid aggregation", [FieldError(
            "aggregation", f"rate needs a counter (sum) metric; this one is a {metric_type}")])
    if aggregation in QUANTILES and metric_type != "histogram":
        raise ValidationFailed("invalid aggregation", [FieldError(
            "aggregation", f"{aggregation} needs a histogram metric; this one is a {metric_type}")])
    if aggregation not in QUANTILES and aggregation != "count" and metric_type == "histogram":
        raise ValidationFailed("invalid aggregation", [FieldError(
            "aggregation", f"a histogram is read with p50, p90, p99 or count, not {aggregation}")])


def validate_traces(query: TraceQuery) -> None:
    errors: list[FieldError] = []
    check_window(errors, query.window, "from", "to")
    _check_limit(errors, query.limit)
    if query.min_duration_ns < 0:
        errors.append(FieldError("min_duration", "must be 0 or more"))
    if query.status not in TRACE_STATUSES:
        errors.append(FieldError("status", "must be error or ok"))
    _check_text(errors, "service", query.service)
    _check_text(errors, "operation", query.operation)
    if errors:
        raise ValidationFailed("invalid trace query", errors)


def validate_trace_id(trace_id: str) -> None:
    if not TRACE_ID.match(trace_id):
        raise ValidationFailed("invalid trace id", [FieldError("trace_id", "must be 32 lowercase hex characters")])


def validate_anomalies(query: AnomalyQuery) -> None:
    errors: list[FieldError] = []
    check_window(errors, query.window, "from", "to", max_ns=7 * 86400 * NS)
    if not 1 <= query.limit <= 200:
        errors.append(FieldError("limit", "must be between 1 and 200"))
    if len(query.services) > 50:
        errors.append(FieldError("services", "at most 50 services"))
    if errors:
        raise ValidationFailed("invalid anomaly query", errors)


def format_step(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- cursors --------------------------------------------------------------------------------------------------


def encode_cursor(kind: str, values: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([kind, *values])).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> list:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raw = None
    if not isinstance(raw, list) or not raw or raw[0] != kind:
        raise ValidationFailed("invalid cursor", [FieldError("cursor", "is not a cursor this query issued")])
    return raw[1:]


def log_cursor(cursor: str) -> LogCursor | None:
    if not cursor:
        return None
    values = decode_cursor("logs", cursor)
    if len(values) != 2 or not all(isinstance(v, int) and v >= 0 for v in values):
        raise ValidationFailed("invalid cursor", [FieldError("cursor", "is not a cursor this query issued")])
    return LogCursor(values[0], values[1])


def trace_cursor(cursor: str) -> TraceCursor | None:
    if not cursor:
        return None
    values = decode_cursor("traces", cursor)
    if len(values) != 2 or not isinstance(values[0], int) or not isinstance(values[1], str) \
            or not TRACE_ID.match(values[1]):
        raise ValidationFailed("invalid cursor", [FieldError("cursor", "is not a cursor this query issued")])
    return TraceCursor(values[0], values[1])


def next_log_cursor(query: LogQuery, page: list[LogRecord]) -> str:
    last = page[-1].ts_ns
    same = sum(1 for r in page if r.ts_ns == last)
    if query.cursor is not None and query.cursor.ts_ns == last:
        same += query.cursor.skip
    return encode_cursor("logs", [last, same])


# -- histograms, templates, anomalies -------------------------------------------------------------------------


def histogram_quantile(q: float, bounds: list[float], counts: list[float]) -> float | None:
    """Prometheus' histogram_quantile over OTLP explicit buckets: counts has len(bounds) + 1 buckets, the last
    one unbounded above. Linear interpolation inside the bucket that holds the rank."""
    total = sum(counts)
    if total <= 0 or not bounds or len(counts) != len(bounds) + 1:
        return None
    rank = q * total
    seen = 0.0
    for i, c in enumerate(counts):
        if c <= 0:
            continue
        if seen + c >= rank:
            if i == len(bounds):
                return bounds[-1]  # the +Inf bucket: the highest finite bound is all that is known
            lower = bounds[i - 1] if i > 0 else min(0.0, bounds[0])
            return lower + (bounds[i] - lower) * ((rank - seen) / c)
        seen += c
    return bounds[-1]


# Error messages that differ only in ids, numbers and quoted values are one problem. Applied in order (as RE2 in
# ClickHouse, as re here for tests); the placeholders are what the AI service sees.
TEMPLATE_RULES: tuple[tuple[str, str], ...] = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>"),
    (r"\b[0-9a-fA-F]{16,}\b", "<hex>"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
    (r"'[^']*'", "'<str>'"),
    (r"\"[^\"]*\"", "\"<str>\""),
    (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
    (r"\d+(?:\.\d+)?", "<n>"),
)


def template(message: str) -> str:
    out = message
    for pattern, replacement in TEMPLATE_RULES:
        out = re.sub(pattern, replacement, out)
    return out[:500]


def metric_anomalies(stats: list[SeriesStats], limit: int) -> list[MetricAnomaly]:
    """Series whose most extreme value in the window lies more than Z_THRESHOLD standard deviations from their
    own baseline mean. A flat baseline (stddev 0) that moves at all counts as deviating."""
    found: list[MetricAnomaly] = []
    for s in stats:
        if s.baseline_points < MIN_BASELINE_POINTS:
            continue
        hi, lo = abs(s.window_max - s.baseline_mean), abs(s.window_min - s.baseline_mean)
        observed, at = (s.window_max, s.window_max_ns) if hi >= lo else (s.window_min, s.window_min_ns)
        deviation = max(hi, lo)
        if s.baseline_stddev > 0:
            z = deviation / s.baseline_stddev
        else:
            z = math.inf if deviation > 1e-9 * max(1.0, abs(s.baseline_mean)) else 0.0
        if z >= Z_THRESHOLD:
            found.append(MetricAnomaly(s.metric_name, s.service, s.labels, s.baseline_mean, s.baseline_stddev,
                                       observed, z, at))
    found.sort(key=lambda a: (-a.z_score, a.metric_name, a.service))
    return found[:limit]


def span_tree(spans: list[Span]) -> list[Span]:
    """Hang every span below its parent; spans whose parent is unknown (or missing) are roots."""
    by_id = {s.span_id: s for s in spans}
    roots: list[Span] = []
    for s in sorted(spans, key=lambda x: (x.start_ns, x.span_id)):
        parent = by_id.get(s.parent_span_id) if s.parent_span_id and s.parent_span_id != s.span_id else None
        (parent.children if parent is not None else roots).append(s)
    return roots


# -- the service ----------------------------------------------------------------------------------------------


class ObservabilityService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def logs(self, ctx: CallContext, query: LogQuery) -> tuple[list[LogRecord], str]:
        validate_logs(query)
        rows = await self.store.logs(ctx.tenant_id, replace(query, limit=query.limit + 1))
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return page, next_log_cursor(query, page) if more and page else ""

    async def metrics(self, ctx: CallContext, query: MetricQuery) -> MetricResult:
        validate_metrics(query)
        metric_type, _temporality = await self.store.metric_kind(ctx.tenant_id, query)
        if not metric_type:
            return MetricResult(query.metric_name, "", query.aggregation, query.step_seconds, [])
        check_aggregation(query.aggregation, metric_type)
        series = await self.store.metrics(ctx.tenant_id, query, metric_type)
        return MetricResult(query.metric_name, metric_type, query.aggregation, query.step_seconds, series)

    async def traces(self, ctx: CallContext, query: TraceQuery) -> tuple[list[TraceSummary], str]:
        validate_traces(query)
        rows = await self.store.traces(ctx.tenant_id, replace(query, limit=query.limit + 1))
        page = rows[: query.limit]
        cursor = ""
        if len(rows) > query.limit and page:
            cursor = encode_cursor("traces", [page[-1].start_ns, page[-1].trace_id])
        return page, cursor

    async def trace(self, ctx: CallContext, trace_id: str) -> tuple[list[Span], int]:
        trace_id = trace_id.lower()
        validate_trace_id(trace_id)
        spans = await self.store.trace_spans(ctx.tenant_id, trace_id)
        if not spans:
            raise NotFound(f"trace {trace_id} not found")
        return span_tree(spans), len(spans)

    async def anomalies(self, ctx: CallContext, query: AnomalyQuery) -> Anomalies:
        validate_anomalies(query)
        clusters = await self.store.error_clusters(ctx.tenant_id, query, TEMPLATE_RULES)
        stats = await self.store.series_stats(ctx.tenant_id, query)
        operations = await self.store.error_operations(ctx.tenant_id, query)
        return Anomalies(clusters, metric_anomalies(stats, query.limit), operations)
