"""OTLP/HTTP intake at the standard paths `/v1/logs`, `/v1/metrics`, `/v1/traces` on the tenant plane, in
protobuf (`application/x-protobuf`) and JSON (`application/json`), gzip or not, with the messages of the
opentelemetry-proto package. An OpenTelemetry SDK exporter or Collector pointed at the gateway just works:

    OTEL_EXPORTER_OTLP_ENDPOINT=http://vigil:8080
    OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <token>,x-tenant-id=<tenant>"

The records become the same rows as the JSON batches (gateway/routes/telemetry.py) and take the same path
through Kafka. Answers: 200 with the Export*ServiceResponse in the request's encoding; 400/401/403 refusals in
the Vigil envelope; 429/503 with Retry-After when the pipeline is behind or Kafka is away (OTLP exporters retry
those).
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from gateway import auth
from gateway.routes.telemetry import (
    ingest,
    log_row,
    metric_row,
    record_ids,
    refusing,
    severity_number,
    severity_text,
    span_row,
)
from vigil.runtime import context
from vigil.runtime.errors import FieldError, ValidationFailed

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
UNKNOWN_SERVICE = "unknown_service"
SPAN_KINDS = {Span.SPAN_KIND_UNSPECIFIED: "Unspecified", Span.SPAN_KIND_INTERNAL: "Internal",
              Span.SPAN_KIND_SERVER: "Server", Span.SPAN_KIND_CLIENT: "Client", Span.SPAN_KIND_PRODUCER: "Producer",
              Span.SPAN_KIND_CONSUMER: "Consumer"}
STATUS_CODES = {Status.STATUS_CODE_UNSET: "Unset", Status.STATUS_CODE_OK: "Ok", Status.STATUS_CODE_ERROR: "Error"}
# OTLP/JSON writes these ids as hex, where the protobuf JSON mapping expects base64.
_HEX_ID_FIELDS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


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


def _hex_ids(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _HEX_ID_FIELDS and isinstance(v, str) and v:
                try:
                    v = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    raise ValidationFailed("invalid OTLP/JSON", [FieldError(k, "must be hex")]) from None
            out[k] = _hex_ids(v)
        return out
    if isinstance(node, list):
        return [_hex_ids(x) for x in node]
    return node


async def decode(request: web.Request, message: type[Message]) -> tuple[Message, str]:
    """The request body as the OTLP message, and the content type to answer in."""
    ctype = request.content_type
    raw = await request.read()
    msg = message()
    if ctype == PROTOBUF:
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            raise ValidationFailed("invalid OTLP protobuf", [FieldError("body", "is not a valid "
                                                             f"{message.DESCRIPTOR.name}")]) from None
        return msg, PROTOBUF
    if ctype == JSON:
        try:
            json_format.ParseDict(_hex_ids(orjson.loads(raw or b"{}")), msg, ignore_unknown_fields=True)
        except (orjson.JSONDecodeError, json_format.ParseError, TypeError) as exc:
            raise ValidationFailed("invalid OTLP/JSON", [FieldError("body", str(exc)[:300])]) from None
        return msg, JSON
    raise ValidationFailed("unsupported content type", [FieldError(
        "Content-Type", f"must be {PROTOBUF} or {JSON}")])


def answer(response: Message, ctype: str) -> web.Response:
    if ctype == PROTOBUF:
        return web.Response(body=response.SerializeToString(), content_type=PROTOBUF)
    return web.Response(body=json_format.MessageToJson(response).encode(), content_type=JSON)


def _service(resource: dict[str, str]) -> str:
    return resource.get("service.name") or UNKNOWN_SERVICE


def _ts(*candidates: int) -> int:
    for c in candidates:
        if c:
            return c
    return time.time_ns()


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


async def _export(request: web.Request, kind: str, message: type[Message], to_rows, response: Message) -> web.Response:
    pipeline = ingest(request)
    pipeline.check_capacity()
    msg, ctype = await decode(request, message)
    tenant = context.current().tenant_id
    rows = to_rows(msg, tenant, await pipeline.retention_for(request, tenant))
    if rows:
        await pipeline.publish(kind, tenant, rows)
    return answer(response, ctype)


@auth.policy("tenant", role="responder")
@refusing
async def export_logs(request: web.Request) -> web.Response:
    return await _export(request, "logs", ExportLogsServiceRequest, log_rows, ExportLogsServiceResponse())


@auth.policy("tenant", role="responder")
@refusing
async def export_metrics(request: web.Request) -> web.Response:
    return await _export(request, "metrics", ExportMetricsServiceRequest, metric_rows, ExportMetricsServiceResponse())


@auth.policy("tenant", role="responder")
@refusing
async def export_traces(request: web.Request) -> web.Response:
    return await _export(request, "traces", ExportTraceServiceRequest, span_rows, ExportTraceServiceResponse())


PLANE = "tenant"
ROUTES = [
    web.post("/v1/logs", export_logs),
    web.post("/v1/metrics", export_metrics),
    web.post("/v1/traces", export_traces),
]
