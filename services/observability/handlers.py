"""The gRPC servicer: proto <-> domain. Domain errors propagate to the server interceptor, which maps them."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from services.observability.comparison import BaselineStats, Comparison, WindowComparison
from services.observability.service import (
    AnomalyQuery,
    LogQuery,
    Matcher,
    MetricQuery,
    ObservabilityService,
    Span,
    TimeRange,
    TraceQuery,
    log_cursor,
    trace_cursor,
)
from vigil.observability.v1 import observability_pb2 as pb
from vigil.observability.v1 import observability_pb2_grpc
from vigil.runtime import context

FULL_NAME = pb.DESCRIPTOR.services_by_name["ObservabilityService"].full_name


def ns(ts: Timestamp) -> int:
    return ts.seconds * 1_000_000_000 + ts.nanos


def ts(value_ns: int) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(value_ns)
    return out


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def span_to_proto(s: Span) -> pb.Span:
    msg = pb.Span(trace_id=s.trace_id, span_id=s.span_id, parent_span_id=s.parent_span_id, name=s.name,
                  kind=s.kind, service=s.service, start=ts(s.start_ns), duration_ns=s.duration_ns,
                  status_code=s.status_code, status_message=s.status_message, attributes=s.attributes,
                  resource=s.resource, children=[span_to_proto(c) for c in s.children])
    for at, name, attrs in s.events:
        msg.events.add(timestamp=ts(at), name=name, attributes=attrs)
    return msg


def stats_to_proto(s: BaselineStats) -> pb.BaselineStats:
    return pb.BaselineStats(count=s.count, median=s.median, mad=s.mad, q01=s.q01, q99=s.q99, mean=s.mean,
                            stddev=s.stddev)


class ObservabilityHandlers(observability_pb2_grpc.ObservabilityServiceServicer):
    def __init__(self, service: ObservabilityService, comparison: WindowComparison | None = None) -> None:
        self.service = service
        self.comparison = comparison

    async def QueryLogs(self, request, _ctx):
        query = LogQuery(
            window=TimeRange(ns(getattr(request, "from")), ns(request.to)),
            services=_split(request.service), levels=tuple(v.lower() for v in _split(request.level)),
            q=request.q, trace_id=request.trace_id.lower(), limit=request.limit or 100,
            cursor=log_cursor(request.cursor))
        items, cursor = await self.service.logs(context.current(), query)
        return pb.QueryLogsResponse(next_cursor=cursor, items=[pb.LogRecord(
            timestamp=ts(r.ts_ns), service=r.service, level=r.level, severity_number=r.severity_number,
            body=r.body, trace_id=r.trace_id, span_id=r.span_id, attributes=r.attributes, resource=r.resource,
            scope_name=r.scope_name) for r in items])

    async def QueryMetrics(self, request, _ctx):
        query = MetricQuery(
            metric_name=request.metric_name, window=TimeRange(ns(request.start), ns(request.end)),
            step_seconds=request.step_seconds, aggregation=request.aggregation or "avg",
            group_by=tuple(request.group_by), service=request.service,
            matchers=tuple(Matcher(m.label, m.op, m.value) for m in request.matchers))
        result = await self.service.metrics(context.current(), query)
        return pb.QueryMetricsResponse(
            metric_name=result.metric_name, metric_type=result.metric_type, aggregation=result.aggregation,
            step_seconds=result.step_seconds,
            series=[pb.Series(labels=s.labels, points=[pb.Point(timestamp=ts(t), value=v) for t, v in s.points])
                    for s in result.series])

    async def QueryTraces(self, request, _ctx):
        query = TraceQuery(
            window=TimeRange(ns(getattr(request, "from")), ns(request.to)), service=request.service,
            operation=request.operation, min_duration_ns=request.min_duration_ns, status=request.status,
            limit=request.limit or 100, cursor=trace_cursor(request.cursor))
        items, cursor = await self.service.traces(context.current(), query)
        return pb.QueryTracesResponse(next_cursor=cursor, items=[pb.TraceSummary(
            trace_id=t.trace_id, root_service=t.root_service, root_name=t.root_name, start=ts(t.start_ns),
            duration_ns=t.duration_ns, span_count=t.span_count, error_count=t.error_count,
            services=list(t.services)) for t in items])

    async def GetTrace(self, request, _ctx):
        roots, count = await self.service.trace(context.current(), request.trace_id)
        return pb.GetTraceResponse(trace_id=request.trace_id.lower(), span_count=count,
                                   roots=[span_to_proto(s) for s in roots])

    async def FindAnomalies(self, request, _ctx):
        query = AnomalyQuery(window=TimeRange(ns(getattr(request, "from")), ns(request.to)),
                             services=tuple(request.services), limit=request.limit or 20)
        found = await self.service.anomalies(context.current(), query)
        return pb.FindAnomaliesResponse(
            error_clusters=[pb.ErrorCluster(
                service=c.service, template=c.template, count=c.count, first_seen=ts(c.first_ns),
                last_seen=ts(c.last_ns), sample=c.sample, sample_trace_id=c.sample_trace_id, level=c.level)
                for c in found.error_clusters],
            metric_anomalies=[pb.MetricAnomaly(
                metric_name=a.metric_name, service=a.service, labels=a.labels, resource=a.resource,
                baseline_mean=a.baseline_mean,
                baseline_stddev=a.baseline_stddev, observed=a.observed,
                z_score=a.z_score if a.z_score != float("inf") else 1e9, at=ts(a.at_ns))
                for a in found.metric_anomalies],
            error_operations=[pb.ErrorOperation(
                service=o.service, operation=o.operation, error_count=o.error_count, span_count=o.span_count,
                sample_status_message=o.sample_status_message, sample_trace_id=o.sample_trace_id)
                for o in found.error_operations])

    async def CompareWindow(self, request, _ctx):
        query = Comparison(
            services=tuple(request.services), window=TimeRange(ns(getattr(request, "from")), ns(request.to)),
            baseline=TimeRange(ns(request.baseline_from), ns(request.baseline_to)),
            step_seconds=request.step_seconds, limit=request.limit or 5000)
        found = await self.comparison.compare(context.current(), query)
        return pb.CompareWindowResponse(
            step_seconds=found.step_seconds, baseline_steps=found.baseline_steps,
            series=[pb.SeriesProfile(
                metric_name=s.metric_name, service=s.service, labels=s.labels, metric_type=s.metric_type,
                baseline=stats_to_proto(s.baseline), points=[pb.Point(timestamp=ts(t), value=v) for t, v in s.points])
                for s in found.series],
            operations=[pb.OperationProfile(
                service=o.service, operation=o.operation, baseline_spans=o.baseline_spans,
                baseline_errors=o.baseline_errors, baseline_p95_ms=stats_to_proto(o.baseline_p95_ms),
                steps=[pb.OperationStep(timestamp=ts(x.at_ns), spans=x.spans, errors=x.errors, p95_ms=x.p95_ms)
                       for x in o.steps],
                sample_status_message=o.sample_status_message, sample_trace_id=o.sample_trace_id)
                for o in found.operations],
            log_templates=[pb.LogTemplateProfile(
                service=t.service, template=t.template, level=t.level, baseline_count=t.baseline_count,
                points=[pb.Point(timestamp=ts(at), value=v) for at, v in t.points], first_seen=ts(t.first_ns),
                last_seen=ts(t.last_ns), sample=t.sample, sample_trace_id=t.sample_trace_id)
                for t in found.log_templates])
