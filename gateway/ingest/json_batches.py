"""JSON ingest batches (validated by gateway/schemas/telemetry.py) -> rows of the v1 contract. Every bad row
of a batch is named at once (up to about 50); a batch with any is refused whole."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from gateway.ingest.rows import NS, metric_row, record_ids, span_row, ts_text
from gateway.schemas.telemetry import LogBatch, MetricBatch, Scalar, SpanBatch, parse_time
from vigil import levels
from vigil.runtime.errors import FieldError, ValidationFailed

HEX = re.compile(r"^[0-9a-f]*$")
SPAN_KINDS = {"unspecified": "Unspecified", "internal": "Internal", "server": "Server", "client": "Client",
              "producer": "Producer", "consumer": "Consumer"}
STATUS_CODES = {"unset": "Unset", "ok": "Ok", "error": "Error"}
MAX_ERRORS = 50
MAX_NS = 4 * 10**18  # parse_time's bound: the year 2096, within the row contract's 64-bit nanoseconds


def log_rows(batch: LogBatch, tenant: str, retention: int) -> list[bytes]:
    now = time.time_ns()
    errors: list[FieldError] = []
    dumps = orjson.dumps
    severity_numbers = levels.NUMBERS
    ids = record_ids()
    rows = []
    for i, r in enumerate(batch["logs"]):
        ts: Any = r.get("timestamp")
        # Whole seconds and nanoseconds in the plain ranges go straight through; anything else (negative, past
        # the year 2096, ms, µs, text) is parse_time's to read or refuse, never a row ClickHouse would refuse.
        ts_ns = ts * NS if type(ts) is int and 0 <= ts < 100_000_000_000 else (
            ts if type(ts) is int and 100_000_000_000_000_000 < ts <= MAX_NS
            else parse_time(ts, f"logs[{i}].timestamp", errors, now))
        level = r.get("level", "info").lower()
        try:
            rows.append(dumps({
                "TenantId": tenant, "Timestamp": ts_text(ts_ns), "RecordId": next(ids),
                "TraceId": r.get("trace_id", "").lower(),
                "SpanId": r.get("span_id", "").lower(), "SeverityText": level.upper(),
                "SeverityNumber": severity_numbers[level], "ServiceName": r["service"], "Body": r["body"],
                "ResourceAttributes": r.get("resource", {}), "LogAttributes": r.get("attributes", {}),
                "RetentionDays": retention}) + b"\n")
        except orjson.JSONEncodeError:  # refused, never dropped while the rest is accepted
            too_big = [name for name in ("attributes", "resource") if not _fits(r.get(name, {}))]
            errors += ([FieldError(f"logs[{i}].{name}", "integer values must fit in 64 bits") for name in too_big]
                       or [FieldError(f"logs[{i}]", "cannot be stored")])
        if len(errors) > MAX_ERRORS:
            break
    if errors:
        raise ValidationFailed("log batch failed validation", errors)
    return rows


def metric_rows(batch: MetricBatch, tenant: str, retention: int) -> list[bytes]:
    now = time.time_ns()
    errors: list[FieldError] = []
    rows = []
    for i, m in enumerate(batch.metrics):
        ts_ns = parse_time(m.timestamp, f"metrics[{i}].timestamp", errors, now)
        start_ns = parse_time(m.start_time, f"metrics[{i}].start_time", errors, 0)
        type_ = "sum" if m.type == "counter" else m.type
        if type_ == "histogram" and m.bucket_counts and len(m.bucket_counts) != len(m.explicit_bounds) + 1:
            errors.append(FieldError(f"metrics[{i}].bucket_counts", "must have one more entry than explicit_bounds"))
        if list(m.explicit_bounds) != sorted(m.explicit_bounds):
            errors.append(FieldError(f"metrics[{i}].explicit_bounds", "must be ascending"))
        rows.append(metric_row(
            tenant, retention, name=m.name, type_=type_, ts_ns=ts_ns, start_ns=start_ns, service=m.service,
            value=float(m.value), attributes=_attrs(m.attributes), resource=_attrs(m.resource), unit=m.unit,
            description=m.description, temporality=1 if m.temporality == "delta" else 2,
            monotonic=m.monotonic and type_ == "sum", count=m.count or sum(m.bucket_counts), sum_=float(m.sum),
            bucket_counts=list(m.bucket_counts), bounds=[float(b) for b in m.explicit_bounds], min_=float(m.min),
            max_=float(m.max)))
        if len(errors) > MAX_ERRORS:
            break
    if errors:
        raise ValidationFailed("metric batch failed validation", errors)
    return rows


def span_rows(batch: SpanBatch, tenant: str, retention: int) -> list[bytes]:
    errors: list[FieldError] = []
    rows = []
    for i, s in enumerate(batch.spans):
        start = parse_time(s.start_time, f"spans[{i}].start_time", errors)
        end = parse_time(s.end_time, f"spans[{i}].end_time", errors)
        if end < start:
            errors.append(FieldError(f"spans[{i}].end_time", "must not be before start_time"))
        events = [(parse_time(e.timestamp, f"spans[{i}].events[{j}].timestamp", errors, start), e.name,
                   _attrs(e.attributes)) for j, e in enumerate(s.events)]
        rows.append(span_row(
            tenant, retention, trace_id=_check_hex(errors, f"spans[{i}].trace_id", s.trace_id, 32),
            span_id=_check_hex(errors, f"spans[{i}].span_id", s.span_id, 16),
            parent_span_id=_check_hex(errors, f"spans[{i}].parent_span_id", s.parent_span_id, 16), name=s.name,
            kind=SPAN_KINDS[s.kind], service=s.service, start_ns=start, end_ns=end, status_code=STATUS_CODES[s.status],
            status_message=s.status_message, attributes=_attrs(s.attributes), resource=_attrs(s.resource),
            events=events))
        if len(errors) > MAX_ERRORS:
            break
    if errors:
        raise ValidationFailed("span batch failed validation", errors)
    return rows


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def _attrs(values: dict[str, Scalar]) -> dict[str, str]:
    return {k: _text(v) for k, v in values.items()}


def _fits(values: dict[str, Scalar]) -> bool:
    return all(not isinstance(v, int) or -(2**63) <= v < 2**64 for v in values.values())


def _check_hex(errors: list[FieldError], name: str, value: str, length: int) -> str:
    value = value.lower()
    if value and (len(value) != length or not HEX.match(value)):
        errors.append(FieldError(name, f"must be {length} hex characters"))
    return value
