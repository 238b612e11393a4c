"""OTLP/HTTP intake at the standard paths `/v1/logs`, `/v1/metrics`, `/v1/traces` on the tenant plane, in
protobuf (`application/x-protobuf`) and JSON (`application/json`), gzip or not, with the messages of the
opentelemetry-proto package. An OpenTelemetry SDK exporter or Collector pointed at the gateway just works:

    OTEL_EXPORTER_OTLP_ENDPOINT=http://vigil:8080
    OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <token>,x-tenant-id=<tenant>"

The records become the same rows as the JSON batches (gateway/ingest/otlp.py) and take the same path through
Kafka. Answers: 200 with the Export*ServiceResponse in the request's encoding (its partial_success counting
spans and log records dropped for invalid ids); refusals in the Vigil envelope,
429/503 with Retry-After when the pipeline is behind or Kafka is away (OTLP exporters retry those).
"""

from __future__ import annotations

import base64
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

from gateway.ingest import otlp
from gateway.routing import Routes
from gateway.state import principal, telemetry_ingest
from vigil.runtime.errors import FieldError, RateLimited, ValidationFailed

PROTOBUF = "application/x-protobuf"
REJECTED_FIELD = {"traces": "rejected_spans", "logs": "rejected_log_records"}
JSON = "application/json"
# OTLP/JSON writes these ids as hex, where the protobuf JSON mapping expects base64.
_HEX_ID_FIELDS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}

routes = Routes("tenant", tags=("otlp",), scopes="telemetry")
EXPORT = {"rate": "ingest", "quota": "telemetry_bytes_per_day", "consumes": (PROTOBUF, JSON), "produces": (PROTOBUF, JSON), "errors": (RateLimited,)}


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
        except RecursionError:  # nesting deeper than the interpreter's stack (orjson allows 1024 levels)
            raise ValidationFailed("invalid OTLP/JSON", [FieldError("body", "is nested too deeply")]) from None
        return msg, JSON
    raise ValidationFailed("unsupported content type", [FieldError(
        "Content-Type", f"must be {PROTOBUF} or {JSON}")])


async def export(request: web.Request, kind: str, message: type[Message], to_rows, response: Message) -> web.Response:
    msg, ctype = await decode(request, message)
    rejected = otlp.drop_invalid_ids(msg) if kind in REJECTED_FIELD else 0
    await telemetry_ingest(request).ingest(kind, principal(request).tenant_id, to_rows, msg)
    if rejected:  # OTLP's partial success: the rest was taken, these will never be (the exporter must not retry)
        setattr(response.partial_success, REJECTED_FIELD[kind], rejected)
        response.partial_success.error_message = (f"{rejected} {kind} records dropped: a trace id must be 16 bytes "
                                                  "and a span id 8, not all zeros")
    if ctype == PROTOBUF:
        return web.Response(body=response.SerializeToString(), content_type=PROTOBUF)
    return web.Response(body=json_format.MessageToJson(response).encode(), content_type=JSON)


@routes.post("/v1/logs", summary="OTLP/HTTP logs export", **EXPORT)
async def otlp_export_logs(request: web.Request) -> web.Response:
    return await export(request, "logs", ExportLogsServiceRequest, otlp.log_rows, ExportLogsServiceResponse())


@routes.post("/v1/metrics", summary="OTLP/HTTP metrics export", **EXPORT)
async def otlp_export_metrics(request: web.Request) -> web.Response:
    return await export(request, "metrics", ExportMetricsServiceRequest, otlp.metric_rows,
                        ExportMetricsServiceResponse())


@routes.post("/v1/traces", summary="OTLP/HTTP traces export", **EXPORT)
async def otlp_export_traces(request: web.Request) -> web.Response:
    return await export(request, "traces", ExportTraceServiceRequest, otlp.span_rows, ExportTraceServiceResponse())
