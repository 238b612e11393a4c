"""The v1 telemetry row contract: one JSON object per row whose keys are the ClickHouse columns of the
observability service's tables (services/observability/migrations), timestamps written so ClickHouse reads
them to the nanosecond, and the OpenTelemetry severity numbers of log levels. JSON batches and OTLP both
produce these rows; the observability consumer inserts them as they are."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator

import orjson

from vigil import levels

NS = 1_000_000_000


def ts_text(value_ns: int) -> orjson.Fragment:
    """DateTime64(9) as ClickHouse reads it exactly: a JSON number of seconds with nine decimals (written as raw
    JSON; a float would lose the nanoseconds, and short numbers in quotes are taken for dates)."""
    return orjson.Fragment(b"%d.%09d" % divmod(max(0, value_ns), NS))


def severity_number(text: str, number: int = 0) -> int:
    """The record's own number when it has one (1-24), else the number its level name stands for."""
    if 0 < number <= 24:
        return number
    return levels.severity_number(text)


def severity_text(text: str, number: int) -> str:
    return text or levels.short_name(number)


def record_ids() -> Iterator[int]:
    """Ids for the log rows of one request (RecordId): a random 44-bit prefix and the row's index, a new prefix
    every 2^20 rows. Two identical records are two rows, and rows that are stored side by side share most bits
    (the column compresses to almost nothing)."""
    while True:
        base = secrets.randbits(44) << 20
        yield from range(base, base + (1 << 20))


def log_row(tenant: str, retention: int, *, ts_ns: int, service: str, severity: str, severity_no: int, body: str,
            trace_id: str = "", span_id: str = "", flags: int = 0, attributes: dict[str, str] | None = None,
            resource: dict[str, str] | None = None, scope_name: str = "", scope_version: str = "",
            resource_schema_url: str = "", scope_schema_url: str = "", record_id: int | None = None) -> bytes:
    return orjson.dumps({
        "TenantId": tenant, "Timestamp": ts_text(ts_ns),
        "RecordId": secrets.randbits(64) if record_id is None else record_id, "TraceId": trace_id, "SpanId": span_id,
        "TraceFlags": flags & 0xFF, "SeverityText": severity, "SeverityNumber": severity_no, "ServiceName": service,
        "Body": body, "ResourceSchemaUrl": resource_schema_url, "ResourceAttributes": resource or {},
        "ScopeSchemaUrl": scope_schema_url, "ScopeName": scope_name, "ScopeVersion": scope_version,
        "ScopeAttributes": {}, "LogAttributes": attributes or {}, "RetentionDays": retention}) + b"\n"


def metric_row(tenant: str, retention: int, *, name: str, type_: str, ts_ns: int, service: str, value: float = 0.0,
               start_ns: int = 0, attributes: dict[str, str] | None = None, resource: dict[str, str] | None = None,
               description: str = "", unit: str = "", scope_name: str = "", scope_version: str = "",
               temporality: int = 0, monotonic: bool = False, count: int = 0, sum_: float = 0.0,
               bucket_counts: list[int] | None = None, bounds: list[float] | None = None, min_: float = 0.0,
               max_: float = 0.0, flags: int = 0) -> bytes:
    return orjson.dumps({
        "TenantId": tenant, "MetricName": name, "MetricType": type_, "MetricDescription": description,
        "MetricUnit": unit, "ServiceName": service, "ResourceAttributes": resource or {}, "ScopeName": scope_name,
        "ScopeVersion": scope_version, "Attributes": attributes or {}, "StartTimeUnix": ts_text(start_ns),
        "TimeUnix": ts_text(ts_ns), "Value": _finite(value), "Flags": flags, "AggregationTemporality": temporality,
        "IsMonotonic": monotonic, "Count": count, "Sum": _finite(sum_), "BucketCounts": bucket_counts or [],
        "ExplicitBounds": bounds or [], "Min": _finite(min_), "Max": _finite(max_),
        "RetentionDays": retention}) + b"\n"


def span_row(tenant: str, retention: int, *, trace_id: str, span_id: str, parent_span_id: str, name: str, kind: str,
             service: str, start_ns: int, end_ns: int, status_code: str, status_message: str = "",
             trace_state: str = "", attributes: dict[str, str] | None = None, resource: dict[str, str] | None = None,
             scope_name: str = "", scope_version: str = "",
             events: list[tuple[int, str, dict[str, str]]] | None = None) -> bytes:
    events = events or []
    return orjson.dumps({
        "TenantId": tenant, "Timestamp": ts_text(start_ns), "TraceId": trace_id, "SpanId": span_id,
        "ParentSpanId": parent_span_id, "TraceState": trace_state, "SpanName": name, "SpanKind": kind,
        "ServiceName": service, "ResourceAttributes": resource or {}, "ScopeName": scope_name,
        "ScopeVersion": scope_version, "SpanAttributes": attributes or {}, "Duration": max(0, end_ns - start_ns),
        "StatusCode": status_code, "StatusMessage": status_message,
        "Events.Timestamp": [ts_text(e[0]) for e in events], "Events.Name": [e[1] for e in events],
        "Events.Attributes": [e[2] for e in events], "RetentionDays": retention}) + b"\n"


def _finite(value: float) -> float:
    # JSON has no NaN/Inf; OTLP min/max/sum may legitimately be absent.
    return value if math.isfinite(value) else 0.0
