"""Telemetry over HTTP: JSON ingest (`POST /api/logs|metrics|traces`, answered 202 once Kafka holds the rows)
and the query API (`GET /api/logs`, `/api/metrics/query`, `/api/traces`, `/api/traces/{trace_id}`,
`/api/observability/anomalies`), translated to the ObservabilityService RPCs; log and trace pages carry
`next_cursor`. The ingest path itself is gateway/ingest/; OTLP/HTTP is gateway/routes/otlp.py."""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.clients import call
from gateway.ingest import json_batches
from gateway.ingest.rows import NS
from gateway.routing import Routes
from gateway.schemas.common import CursorPage
from gateway.schemas.telemetry import (
    Accepted,
    Anomalies,
    AnomalyQuery,
    LogBatch,
    LogQuery,
    LogRecord,
    MetricAnswer,
    MetricBatch,
    MetricQuery,
    SpanBatch,
    Trace,
    TraceIdPath,
    TraceQuery,
    TraceSummary,
    Window,
    duration_ns,
)
from gateway.state import principal, telemetry_ingest, upstreams
from vigil.observability.v1 import observability_pb2 as pb
from vigil.runtime.errors import FieldError, RateLimited, ValidationFailed

routes = Routes("tenant", tags=("telemetry",), scopes="telemetry")
INGEST = {"rate": "ingest", "quota": "telemetry_bytes_per_day", "response": Accepted, "status": 202, "errors": (RateLimited,)}
MATCHER = re.compile(r"^([^=!~]+)(=~|!~|!=|=)(.*)$", re.S)


@routes.post("/api/logs", summary="Ingest a batch of log records", body=LogBatch, **INGEST)
async def ingest_logs(request: web.Request, body: LogBatch) -> dict[str, int]:
    tenant = principal(request).tenant_id
    return {"accepted": await telemetry_ingest(request).ingest("logs", tenant, json_batches.log_rows, body)}


@routes.post("/api/metrics", summary="Ingest a batch of metric points", body=MetricBatch, **INGEST)
async def ingest_metrics(request: web.Request, body: MetricBatch) -> dict[str, int]:
    tenant = principal(request).tenant_id
    return {"accepted": await telemetry_ingest(request).ingest("metrics", tenant, json_batches.metric_rows, body)}


@routes.post("/api/traces", summary="Ingest a batch of spans", body=SpanBatch, **INGEST)
async def ingest_traces(request: web.Request, body: SpanBatch) -> dict[str, int]:
    tenant = principal(request).tenant_id
    return {"accepted": await telemetry_ingest(request).ingest("traces", tenant, json_batches.span_rows, body)}


def _timestamp(value_ns: int) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(value_ns)
    return out


def window(start_ns: int | None, end_ns: int | None, default_seconds: int = 3600) -> tuple[Timestamp, Timestamp]:
    """`end` defaults to now and `start` to an hour before `end`."""
    end = end_ns if end_ns is not None else time.time_ns()
    start = start_ns if start_ns is not None else end - default_seconds * NS
    return _timestamp(start), _timestamp(end)


def _window(query: Window) -> dict[str, Timestamp]:
    start, end = window(query.from_, query.to)
    return {"from": start, "to": end}


@routes.get("/api/logs", summary="Search logs, newest first",
            tool="search_logs", query=LogQuery, response=CursorPage[LogRecord])
async def query_logs(request: web.Request, query: LogQuery) -> dict[str, Any]:
    msg = pb.QueryLogsRequest(service=",".join(query.service), level=",".join(query.level), q=query.q,
                              trace_id=query.trace_id, limit=query.limit, cursor=query.cursor, **_window(query))
    resp = await call(upstreams(request).observability.QueryLogs(msg))
    return {"items": resp.items, "limit": query.limit, "next_cursor": resp.next_cursor or None}


@routes.get("/api/metrics/query", summary="One metric over time, aggregated per step and label group",
            tool="query_metrics",
            query=MetricQuery, response=MetricAnswer)
async def query_metrics(request: web.Request, query: MetricQuery) -> dict[str, Any]:
    start, end = window(query.start, query.end)
    matchers = []
    for raw in query.label:
        match = MATCHER.match(raw)
        if not match:
            raise ValidationFailed("invalid label matcher", [FieldError(
                "label", "must be name=value, name!=value, name=~regex or name!~regex")])
        matchers.append(pb.LabelMatcher(label=match.group(1).strip(), op=match.group(2), value=match.group(3)))
    msg = pb.QueryMetricsRequest(
        metric_name=query.metric_name, start=start, end=end, step_seconds=min(_seconds(query.step), 2**31 - 1),
        aggregation=query.aggregation, group_by=query.by, service=query.service, matchers=matchers)
    resp = await call(upstreams(request).observability.QueryMetrics(msg))
    return {"metric_name": resp.metric_name, "metric_type": resp.metric_type or None,
            "aggregation": resp.aggregation, "step": query.step, "start": start, "end": end, "series": resp.series}


def _seconds(step: str) -> int:
    return duration_ns(step, "s") // NS


@routes.get("/api/traces", summary="Search traces, newest first", tool="search_traces", query=TraceQuery,
            response=CursorPage[TraceSummary])
async def query_traces(request: web.Request, query: TraceQuery) -> dict[str, Any]:
    msg = pb.QueryTracesRequest(service=query.service, operation=query.operation, min_duration_ns=query.min_duration or 0,
                                status=query.status, limit=query.limit, cursor=query.cursor, **_window(query))
    resp = await call(upstreams(request).observability.QueryTraces(msg))
    return {"items": resp.items, "limit": query.limit, "next_cursor": resp.next_cursor or None}


@routes.get("/api/traces/{trace_id}", summary="Every span of one trace, as a tree",
            tool="get_trace", path=TraceIdPath,
            response=Trace)
async def get_trace(request: web.Request, path: TraceIdPath) -> pb.GetTraceResponse:
    return await call(upstreams(request).observability.GetTrace(pb.GetTraceRequest(trace_id=path.trace_id)))


@routes.get("/api/observability/anomalies", summary="Error clusters, deviating metrics and failing operations",
            tool="find_anomalies",
            query=AnomalyQuery, response=Anomalies)
async def find_anomalies(request: web.Request, query: AnomalyQuery) -> pb.FindAnomaliesResponse:
    msg = pb.FindAnomaliesRequest(services=query.service, limit=query.limit, **_window(query))
    return await call(upstreams(request).observability.FindAnomalies(msg))
