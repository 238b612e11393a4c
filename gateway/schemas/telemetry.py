"""Telemetry: the JSON ingest batches (`/api/logs|metrics|traces`), the query parameters and answers of the
query API (the protos are vigil.observability.v1.LogRecord, TraceSummary, Span, ...), and the time syntax both
accept: RFC 3339, or a Unix time number in seconds, milliseconds, microseconds or nanoseconds."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic needs these on Python < 3.12
)

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema, with_config
from typing_extensions import TypedDict

from gateway.ingest.rows import NS
from gateway.schemas.base import Body, Derived, NanoTime, NoSplit, Path, ProtoField, Query, Resource, invalid
from vigil import levels
from vigil.runtime.errors import FieldError

MAX_ITEMS = 10_000
# A histogram bucket or point count: 256 of them still add up within 64 bits.
MAX_COUNT = 2**48
Scalar = str | int | float | bool
Attributes = dict[str, Scalar]
TimeInput = str | int | float | None


def parse_time(raw: TimeInput, name: str, errors: list[FieldError], default_ns: int = 0) -> int:
    """RFC 3339 text, or a Unix time number in seconds (up to 1e11), milliseconds, microseconds or nanoseconds,
    as nanoseconds; a failure is appended to `errors` (so a batch names every bad row at once)."""
    if raw is None or raw == "":
        return default_ns
    if isinstance(raw, bool):
        errors.append(FieldError(name, "must be an RFC 3339 time or a Unix timestamp"))
        return 0
    if isinstance(raw, int | float):
        value = float(raw)
        if not math.isfinite(value) or value < 0:
            errors.append(FieldError(name, "must be a positive Unix timestamp"))
            return 0
        ns = int(raw) if value >= 1e17 else next(
            int(raw * scale) if isinstance(raw, int) else int(round(value * scale))
            for limit, scale in ((1e11, NS), (1e14, 1_000_000), (1e17, 1_000)) if value < limit)
        if ns > 4e18:  # past the year 2096, and beyond the 64-bit nanoseconds the row contract holds
            errors.append(FieldError(name, "is out of range"))
            return 0
        return ns
    text = raw.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return parse_time(float(text) if "." in text else int(text), name, errors)
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        errors.append(FieldError(name, "must be an RFC 3339 time (2026-04-01T00:00:00Z) or a Unix timestamp"))
        return 0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # datetime keeps microseconds; keep any extra fraction digits the text had
    frac = re.search(r"\.(\d{7,9})", text)
    extra = int(frac.group(1).ljust(9, "0")[6:9]) if frac else 0
    try:
        ns = int(parsed.timestamp() // 1) * NS + parsed.microsecond * 1000 + extra
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00: before the year 1 in UTC
        ns = -1
    if not 0 <= ns <= 4e18:  # the same bounds as a number's: from 1970 to the year 2096
        errors.append(FieldError(name, "is out of range"))
        return 0
    return ns


# -- JSON batches in --------------------------------------------------------------------------------------------

# The log batch is the hot path (the benchmark's 50k records/s): it is validated entirely in pydantic-core (Rust)
# into plain dicts, and rows are built from them with no per-field Python checks. Attribute values stay JSON
# scalars; ClickHouse writes numbers and booleans into the String map values itself.
LEVEL_PATTERN = levels.PATTERN


@with_config(ConfigDict(extra="forbid", strict=True))
class LogIn(TypedDict):
    service: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    body: Annotated[str, StringConstraints(max_length=64_000)]
    timestamp: NotRequired[TimeInput]
    level: NotRequired[Annotated[str, StringConstraints(pattern=LEVEL_PATTERN)]]
    trace_id: NotRequired[Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{32})?$")]]
    span_id: NotRequired[Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{16})?$")]]
    attributes: NotRequired[Annotated[Attributes, Field(max_length=128)]]
    resource: NotRequired[Annotated[Attributes, Field(max_length=128)]]


@with_config(ConfigDict(extra="forbid", strict=True))
class LogBatch(TypedDict):
    logs: Annotated[list[LogIn], Field(min_length=1, max_length=MAX_ITEMS)]


class MetricIn(Body):
    name: str = Field(min_length=1, max_length=256)
    type: Literal["gauge", "sum", "counter", "histogram"] = "gauge"
    service: str = Field(default="", max_length=256)
    timestamp: TimeInput = None
    start_time: TimeInput = None
    value: float | int = 0.0
    unit: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=1000)
    temporality: Literal["cumulative", "delta"] = "cumulative"
    monotonic: bool = True
    attributes: Attributes = Field(default_factory=dict, max_length=128)
    resource: Attributes = Field(default_factory=dict, max_length=128)
    count: int = Field(default=0, ge=0, le=MAX_COUNT)
    sum: float | int = 0.0
    bucket_counts: list[Annotated[int, Field(ge=0, le=MAX_COUNT)]] = Field(default_factory=list, max_length=256)
    explicit_bounds: list[float | int] = Field(default_factory=list, max_length=255)
    min: float | int = 0.0
    max: float | int = 0.0


class MetricBatch(Body):
    metrics: list[MetricIn] = Field(min_length=1, max_length=MAX_ITEMS)


class SpanEventIn(Body):
    name: str = Field(max_length=256)
    timestamp: TimeInput = None
    attributes: Attributes = Field(default_factory=dict, max_length=64)


class SpanIn(Body):
    trace_id: str = Field(min_length=32, max_length=32)
    span_id: str = Field(min_length=16, max_length=16)
    parent_span_id: str = Field(default="", max_length=16)
    name: str = Field(min_length=1, max_length=256)
    kind: Literal["unspecified", "internal", "server", "client", "producer", "consumer"] = "internal"
    service: str = Field(min_length=1, max_length=256)
    start_time: str | int | float
    end_time: str | int | float
    status: Literal["unset", "ok", "error"] = "unset"
    status_message: str = Field(default="", max_length=4000)
    attributes: Attributes = Field(default_factory=dict, max_length=128)
    resource: Attributes = Field(default_factory=dict, max_length=128)
    events: list[SpanEventIn] = Field(default_factory=list, max_length=128)


class SpanBatch(Body):
    spans: list[SpanIn] = Field(min_length=1, max_length=MAX_ITEMS)


class Accepted(Resource):
    accepted: int = Field(description="records taken; they are queryable once the pipeline inserted them")


# -- queries ----------------------------------------------------------------------------------------------------


def _time_param(raw: Any) -> Any:
    if raw is None:
        return None
    errors: list[FieldError] = []
    value = parse_time(raw, "", errors)
    if errors:
        raise invalid(errors[0].message)
    return value


# A time in a query string (RFC 3339 or a Unix time number), as nanoseconds.
TimeParam = Annotated[int, BeforeValidator(_time_param), WithJsonSchema(
    {"type": "string", "examples": ["2026-04-01T00:00:00Z", "1775001600"]})]
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)?$")
UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS,
         "d": 86400 * NS}


def duration_ns(raw: str, default_unit: str) -> int:
    match = DURATION.match(raw.strip())
    if not match:
        raise invalid("must be a duration such as 250ms, 60s, 5m or 1h")
    value = float(match.group(1)) * UNITS[match.group(2) or default_unit]
    if value > 366 * 86400 * NS:
        raise invalid("is too long")
    return int(value)


def _step(raw: Any) -> Any:
    if isinstance(raw, str) and duration_ns(raw, "s") % NS:
        raise invalid("must be a whole number of seconds")
    return raw


def _min_duration(raw: Any) -> Any:
    return duration_ns(raw, "ms") if isinstance(raw, str) else raw


class Window(Query):
    """`to` defaults to now and `from` to an hour before `to`."""

    from_: TimeParam | None = Field(None, alias="from", description="RFC 3339 or Unix time")
    to: TimeParam | None = Field(None, description="RFC 3339 or Unix time")


class LogQuery(Window):
    service: list[str] = Field(default_factory=list)
    level: list[str] = Field(default_factory=list, description="OpenTelemetry severity names (trace, debug, info, warn, error, fatal) or their aliases (warning, critical, …)")
    q: str = Field("", description="case-insensitive text in the body")
    trace_id: str = ""
    limit: int = Field(100, ge=1, le=1000)
    cursor: str = Field("", description="next_cursor of the previous page")


class MetricQuery(Query):
    metric_name: str = ""
    start: TimeParam | None = Field(None, description="RFC 3339 or Unix time; default: an hour before end")
    end: TimeParam | None = Field(None, description="RFC 3339 or Unix time; default: now")
    step: Annotated[str, BeforeValidator(_step)] = Field("60s", description="a whole number of seconds: 60s, 5m")
    aggregation: str = Field("avg", description="sum, avg, max, min, count, rate, p50, p90, p99")
    by: list[str] = Field(default_factory=list, description="labels to group by")
    label: Annotated[list[str], NoSplit()] = Field(default_factory=list, description="name=value, name!=value, "
                                                   "name=~regex or name!~regex (repeatable)")
    service: str = ""


class TraceQuery(Window):
    service: str = ""
    operation: str = ""
    min_duration: Annotated[int, BeforeValidator(_min_duration), WithJsonSchema({"type": "string"})] | None = Field(
        None, description="250ms, 1s, ... (default unit ms)")
    status: str = Field("", description="error or ok")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str = ""


class AnomalyQuery(Window):
    service: list[str] = Field(default_factory=list)
    limit: int = Field(20, ge=1, le=200)


class TraceIdPath(Path):
    trace_id: str


# -- answers ----------------------------------------------------------------------------------------------------


class LogRecord(Resource):
    timestamp: NanoTime
    service: str
    level: str
    severity_number: int
    body: str
    trace_id: str | None
    span_id: str | None
    attributes: dict[str, str]
    resource: dict[str, str]
    scope: Annotated[str | None, ProtoField("scope_name")]


class Point(Resource):
    timestamp: NanoTime
    value: float


class Series(Resource):
    labels: dict[str, str]
    points: list[Point]


class MetricAnswer(Resource):
    metric_name: str
    metric_type: str | None = Field(description="gauge, sum or histogram; null when there is no data")
    aggregation: str
    step: str
    start: NanoTime
    end: NanoTime
    series: list[Series]


class TraceSummary(Resource):
    trace_id: str
    root_service: str
    root_name: str
    start: NanoTime
    duration_ms: Annotated[float, Derived(lambda t: t.duration_ns / 1e6)]
    span_count: int
    error_count: int
    services: list[str]


class SpanStatus(Resource):
    code: Annotated[str, ProtoField("status_code")] = Field(description="Unset, Ok or Error")
    message: Annotated[str, ProtoField("status_message")]


class SpanEvent(Resource):
    timestamp: NanoTime
    name: str
    attributes: dict[str, str]


class Span(Resource):
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str
    start: NanoTime
    duration_ms: Annotated[float, Derived(lambda s: s.duration_ns / 1e6)]
    status: Annotated[SpanStatus, Derived(lambda s: s)]
    attributes: dict[str, str]
    resource: dict[str, str]
    events: list[SpanEvent]
    children: list[Span]


class Trace(Resource):
    trace_id: str
    span_count: int
    spans: Annotated[list[Span], ProtoField("roots")] = Field(description="root spans; children nest below")


class ErrorCluster(Resource):
    service: str
    template: str
    count: int
    level: str
    first_seen: NanoTime
    last_seen: NanoTime
    sample: str
    sample_trace_id: str | None


class MetricAnomaly(Resource):
    metric_name: str
    service: str
    labels: dict[str, str]
    resource: dict[str, str]
    baseline_mean: float
    baseline_stddev: float
    observed: float
    z_score: float
    at: NanoTime


class ErrorOperation(Resource):
    service: str
    operation: str
    error_count: int
    span_count: int
    sample_status_message: str
    sample_trace_id: str | None


class Anomalies(Resource):
    error_clusters: list[ErrorCluster]
    metric_anomalies: list[MetricAnomaly]
    error_operations: list[ErrorOperation]
