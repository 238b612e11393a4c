"""OTLP export requests (opentelemetry-proto messages) -> rows of the v1 contract, the same rows as the JSON
batches. Attribute values become text (arrays and maps as JSON); a resource without `service.name` is
`unknown_service`, as the OpenTelemetry specification names it."""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from gateway.ingest.rows import log_row, metric_row, record_ids, severity_number, severity_text, span_row

UNKNOWN_SERVICE = "unknown_service"
SPAN_KINDS = {Span.SPAN_KIND_UNSPECIFIED: "Unspecified", Span.SPAN_KIND_INTERNAL: "Internal",
              Span.SPAN_KIND_SERVER: "Server", Span.SPAN_KIND_CLIENT: "Client", Span.SPAN_KIND_PRODUCER: "Producer",
              Span.SPAN_KIND_CONSUMER: "Consumer"}
STATUS_CODES = {Status.STATUS_CODE_UNSET: "Unset", Status.STATUS_CODE_OK: "Ok", Status.STATUS_CODE_ERROR: "Error"}


def any_text(v: AnyValue) -> str:
    which = v.WhichOneof("value")
    if which is None:
        return ""
    if which == "string_value":
        return v.string_value
    if which == "bool_value":
        return "true" if v.bool_value else "false"
    if which == "int_value":
        return str(v.int_value)
    if which == "double_value":
        return repr(v.double_value)
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return orjson.dumps(_any_json(v)).decode()


def _any_json(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [_any_json(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_json(kv.value) for kv in v.kvlist_value.values}
    if which == "double_value":
        return v.double_value if math.isfinite(v.double_value) else None
    if which in ("int_value", "bool_value"):
        return getattr(v, which)
    return any_text(v)


def attrs(values: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in values:
        kv: KeyValue
        out[kv.key] = any_text(kv.value)
    return out


def _service(resource: dict[str, str]) -> str:
    return resource.get("service.name") or UNKNOWN_SERVICE


def _ts(*candidates: int) -> int:
    for c in candidates:
        if c:
            return c
    return time.time_ns()


def _valid_span(s: Span) -> bool:
    return (len(s.trace_id) == 16 and len(s.span_id) == 8 and len(s.parent_span_id) in (0, 8)
            and any(s.trace_id) and any(s.span_id))


def _valid_log(r: Any) -> bool:
    return len(r.trace_id) in (0, 16) and len(r.span_id) in (0, 8)


def drop_invalid_ids(req: ExportTraceServiceRequest | ExportLogsServiceRequest) -> int:
    """OTLP's rule: a span's trace id is 16 bytes and its span id 8, neither all zeros; a log record's ids, when
    set, have those lengths too. Records that break it are dropped and counted for the answer's partial_success
    (an exporter logs it), never stored where no read by id could find them."""
    if isinstance(req, ExportTraceServiceRequest):
        groups, field, valid = [ss for rs in req.resource_spans for ss in rs.scope_spans], "spans", _valid_span
    else:
        groups, field, valid = [sl for rl in req.resource_logs for sl in rl.scope_logs], "log_records", _valid_log
    dropped = 0
    for group in groups:
        records = getattr(group, field)
        if all(valid(r) for r in records):
            continue
        kept = [r for r in records if valid(r)]
        dropped += len(records) - len(kept)
        del records[:]
        records.extend(kept)
    return dropped


def log_rows(req: ExportLogsServiceRequest, tenant: str, retention: int) -> list[bytes]:
    ids = record_ids()
    rows = []
    for rl in req.resource_logs:
        resource = attrs(rl.resource.attributes)
        service = _service(resource)
        for sl in rl.scope_logs:
            for r in sl.log_records:
                number = severity_number(r.severity_text, r.severity_number)
                rows.append(log_row(
                    tenant, retention, ts_ns=_ts(r.time_unix_nano, r.observed_time_unix_nano), service=service,
                    severity=severity_text(r.severity_text, number), severity_no=number, body=any_text(r.body),
                    trace_id=r.trace_id.hex(), span_id=r.span_id.hex(), flags=r.flags, attributes=attrs(r.attributes),
                    resource=resource, scope_name=sl.scope.name, scope_version=sl.scope.version,
                    resource_schema_url=rl.schema_url, scope_schema_url=sl.schema_url, record_id=next(ids)))
    return rows


def metric_rows(req: ExportMetricsServiceRequest, tenant: str, retention: int) -> list[bytes]:
    rows = []
    for rm in req.resource_metrics:
        resource = attrs(rm.resource.attributes)
        service = _service(resource)
        for sm in rm.scope_metrics:
            scope = {"scope_name": sm.scope.name, "scope_version": sm.scope.version}
            for m in sm.metrics:
                common = {"name": m.name, "service": service, "resource": resource, "description": m.description,
                          "unit": m.unit, **scope}
                kind = m.WhichOneof("data")
                if kind in ("gauge", "sum"):
                    data = getattr(m, kind)
                    temporality = data.aggregation_temporality if kind == "sum" else 0
                    monotonic = data.is_monotonic if kind == "sum" else False
                    for p in data.data_points:
                        value = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
                        rows.append(metric_row(
                            tenant, retention, type_=kind, ts_ns=_ts(p.time_unix_nano), start_ns=p.start_time_unix_nano,
                            value=value, attributes=attrs(p.attributes), temporality=temporality,
                            monotonic=monotonic, flags=p.flags, **common))
                elif kind == "histogram":
                    for p in m.histogram.data_points:
                        rows.append(metric_row(
                            tenant, retention, type_="histogram", ts_ns=_ts(p.time_unix_nano),
                            start_ns=p.start_time_unix_nano, attributes=attrs(p.attributes),
                            temporality=m.histogram.aggregation_temporality, count=p.count, sum_=p.sum,
                            bucket_counts=list(p.bucket_counts), bounds=list(p.explicit_bounds),
                            min_=p.min if p.HasField("min") else 0.0, max_=p.max if p.HasField("max") else 0.0,
                            flags=p.flags, **common))
                # exponential histograms and summaries are not stored (yet); they are accepted and dropped so an
                # exporter does not retry them forever.
    return rows


def span_rows(req: ExportTraceServiceRequest, tenant: str, retention: int) -> list[bytes]:
    rows = []
    for rs in req.resource_spans:
        resource = attrs(rs.resource.attributes)
        service = _service(resource)
        for ss in rs.scope_spans:
            for s in ss.spans:
                rows.append(span_row(
                    tenant, retention, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(), name=s.name, kind=SPAN_KINDS.get(s.kind, "Unspecified"),
                    service=service, start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                    status_code=STATUS_CODES.get(s.status.code, "Unset"), status_message=s.status.message,
                    trace_state=s.trace_state, attributes=attrs(s.attributes), resource=resource,
                    scope_name=ss.scope.name, scope_version=ss.scope.version,
                    events=[(e.time_unix_nano, e.name, attrs(e.attributes)) for e in s.events]))
    return rows
