"""Observability domain logic: what a valid telemetry query is, cursors, histogram quantiles, error-message
templates and the baseline test for metric anomalies. No gRPC, SQL or Kafka here; the store runs the queries
these objects describe."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from dataclasses import dataclass, field, replace
from typing import Protocol

import orjson

from vigil import levels
from vigil.runtime.context import CallContext
from vigil.runtime.errors import FieldError, NotFound, ValidationFailed

NS = 1_000_000_000
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


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class LogCursor:
    """A position in the newest-first order of logs, (Timestamp, RecordId) descending: the next page holds the
    rows after it. RecordId is unique per row, so the order is total; the window is the first page's, so the
    pages of one listing never drift as time passes."""

    window: TimeRange
    ts_ns: int
    record_id: int


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
    record_id: int
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
    """A position in the newest-first order of traces, (start descending, trace id ascending), the first page's
    window, and its snapshot: the newest insert block of spans the first page read. A trace is an aggregate of
    spans, and a span arriving later can move a trace's start; later pages read only the spans the first page
    could see, so every trace keeps the place it had."""

    window: TimeRange
    start_ns: int
    trace_id: str
    snapshot: int


@dataclass(frozen=True, slots=True)
class TraceQuery:
    window: TimeRange
    service: str = ""
    operation: str = ""
    min_duration_ns: int = 0
    status: str = ""
    limit: int = DEFAULT_LIMIT
    cursor: TraceCursor | None = None
    snapshot: int = 0  # read only spans of insert blocks up to this one (0: all)


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
    resource: dict[str, str]
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
    resource: dict[str, str]  # tells the replicas of one service apart
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
    async def trace_snapshot(self, tenant_id: str, window: TimeRange) -> int: ...
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
        if not levels.level_name(level):
            errors.append(FieldError("level", f"unknown level {level[:32]!r}; one of {', '.join(levels.LEVELS)} "
                                              "or an alias such as warning, err, critical (see the docs)"))
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
        errors.append(FieldError("service", "at most 50 services"))
    if errors:
        raise ValidationFailed("invalid anomaly query", errors)


def format_step(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- cursors --------------------------------------------------------------------------------------------------
# A cursor is a position in a total order (keyset), never a count of rows to skip, so rows ingested while a
# client pages neither repeat nor hide rows it has not seen yet. It is opaque: base64 of a JSON array and a
# checksum, so a damaged or edited cursor is refused (422 on `cursor`). The checksum is no secret and needs
# none: a cursor only positions a query that is scoped to the caller's tenant anyway.

_CURSOR_CHECK = 8
_UINT64 = 2**64


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CURSOR_CHECK, person=b"vigil-cursor").digest()


def encode_cursor(kind: str, values: list) -> str:
    payload = orjson.dumps([kind, *values])
    return base64.urlsafe_b64encode(payload + _checksum(payload)).decode().rstrip("=")


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("invalid cursor", [FieldError("cursor", "is not a cursor this query issued")])


def decode_cursor(kind: str, cursor: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    payload, check = raw[:-_CURSOR_CHECK], raw[-_CURSOR_CHECK:]
    if len(raw) <= _CURSOR_CHECK or not hmac.compare_digest(check, _checksum(payload)):
        raise _bad_cursor()
    try:
        values = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise _bad_cursor() from None
    if not isinstance(values, list) or not values or values[0] != kind:
        raise _bad_cursor()
    return values[1:]


def _naturals(values: list, count: int) -> bool:
    return all(type(v) is int and 0 <= v < _UINT64 for v in values[:count])


def log_cursor(cursor: str) -> LogCursor | None:
    if not cursor:
        return None
    values = decode_cursor("logs", cursor)
    if len(values) != 4 or not _naturals(values, 4) or values[0] >= values[1]:
        raise _bad_cursor()
    return LogCursor(TimeRange(values[0], values[1]), values[2], values[3])


def trace_cursor(cursor: str) -> TraceCursor | None:
    if not cursor:
        return None
    values = decode_cursor("traces", cursor)
    if len(values) != 5 or not _naturals(values, 3) or values[0] >= values[1] or not isinstance(values[3], str) \
            or not TRACE_ID.match(values[3]) or type(values[4]) is not int or not 0 <= values[4] < _UINT64:
        raise _bad_cursor()
    return TraceCursor(TimeRange(values[0], values[1]), values[2], values[3], values[4])


def next_log_cursor(query: LogQuery, page: list[LogRecord]) -> str:
    last = page[-1]
    return encode_cursor("logs", [query.window.start_ns, query.window.end_ns, last.ts_ns, last.record_id])


def next_trace_cursor(query: TraceQuery, page: list[TraceSummary]) -> str:
    last = page[-1]
    return encode_cursor("traces", [query.window.start_ns, query.window.end_ns, last.start_ns, last.trace_id,
                                    query.snapshot])


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
            found.append(MetricAnomaly(s.metric_name, s.service, s.labels, s.resource, s.baseline_mean,
                                       s.baseline_stddev, observed, z, at))
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
        if query.cursor is not None:
            query = replace(query, window=query.cursor.window)  # a cursor continues the listing that issued it
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
        if query.cursor is not None:
            query = replace(query, window=query.cursor.window, snapshot=query.cursor.snapshot)
        validate_traces(query)
        if query.cursor is None:
            # Taken before the page is read: every span of a block up to it is already visible to this page
            # and to every later one, and the spans of later blocks are left out of all of them.
            query = replace(query, snapshot=await self.store.trace_snapshot(ctx.tenant_id, query.window))
        rows = await self.store.traces(ctx.tenant_id, replace(query, limit=query.limit + 1))
        page = rows[: query.limit]
        return page, next_trace_cursor(query, page) if len(rows) > query.limit and page else ""

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
