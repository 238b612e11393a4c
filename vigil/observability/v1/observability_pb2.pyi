import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogRecord(_message.Message):
    __slots__ = ("timestamp", "service", "level", "body", "trace_id", "span_id", "attributes", "severity_number", "resource", "scope_name")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ResourceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_NAME_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    service: str
    level: str
    body: str
    trace_id: str
    span_id: str
    attributes: _containers.ScalarMap[str, str]
    severity_number: int
    resource: _containers.ScalarMap[str, str]
    scope_name: str
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., service: _Optional[str] = ..., level: _Optional[str] = ..., body: _Optional[str] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., severity_number: _Optional[int] = ..., resource: _Optional[_Mapping[str, str]] = ..., scope_name: _Optional[str] = ...) -> None: ...

class QueryLogsRequest(_message.Message):
    __slots__ = ("service", "level", "to", "q", "trace_id", "limit", "cursor")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    service: str
    level: str
    to: _timestamp_pb2.Timestamp
    q: str
    trace_id: str
    limit: int
    cursor: str
    def __init__(self, service: _Optional[str] = ..., level: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., q: _Optional[str] = ..., trace_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., **kwargs) -> None: ...

class QueryLogsResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[LogRecord]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[LogRecord, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class LabelMatcher(_message.Message):
    __slots__ = ("label", "op", "value")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    label: str
    op: str
    value: str
    def __init__(self, label: _Optional[str] = ..., op: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class QueryMetricsRequest(_message.Message):
    __slots__ = ("metric_name", "start", "end", "step_seconds", "aggregation", "group_by", "matchers", "service")
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    metric_name: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    step_seconds: int
    aggregation: str
    group_by: _containers.RepeatedScalarFieldContainer[str]
    matchers: _containers.RepeatedCompositeFieldContainer[LabelMatcher]
    service: str
    def __init__(self, metric_name: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_seconds: _Optional[int] = ..., aggregation: _Optional[str] = ..., group_by: _Optional[_Iterable[str]] = ..., matchers: _Optional[_Iterable[_Union[LabelMatcher, _Mapping]]] = ..., service: _Optional[str] = ...) -> None: ...

class Point(_message.Message):
    __slots__ = ("timestamp", "value")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    value: float
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., value: _Optional[float] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("labels", "points")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LABELS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.ScalarMap[str, str]
    points: _containers.RepeatedCompositeFieldContainer[Point]
    def __init__(self, labels: _Optional[_Mapping[str, str]] = ..., points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ...) -> None: ...

class QueryMetricsResponse(_message.Message):
    __slots__ = ("metric_name", "metric_type", "aggregation", "step_seconds", "series")
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    metric_name: str
    metric_type: str
    aggregation: str
    step_seconds: int
    series: _containers.RepeatedCompositeFieldContainer[Series]
    def __init__(self, metric_name: _Optional[str] = ..., metric_type: _Optional[str] = ..., aggregation: _Optional[str] = ..., step_seconds: _Optional[int] = ..., series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ...) -> None: ...

class QueryTracesRequest(_message.Message):
    __slots__ = ("service", "to", "min_duration_ns", "status", "limit", "cursor", "operation")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    service: str
    to: _timestamp_pb2.Timestamp
    min_duration_ns: int
    status: str
    limit: int
    cursor: str
    operation: str
    def __init__(self, service: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_duration_ns: _Optional[int] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., operation: _Optional[str] = ..., **kwargs) -> None: ...

class TraceSummary(_message.Message):
    __slots__ = ("trace_id", "root_service", "root_name", "start", "duration_ns", "span_count", "error_count", "services")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_SERVICE_FIELD_NUMBER: _ClassVar[int]
    ROOT_NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    root_service: str
    root_name: str
    start: _timestamp_pb2.Timestamp
    duration_ns: int
    span_count: int
    error_count: int
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trace_id: _Optional[str] = ..., root_service: _Optional[str] = ..., root_name: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ns: _Optional[int] = ..., span_count: _Optional[int] = ..., error_count: _Optional[int] = ..., services: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryTracesResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[TraceSummary]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[TraceSummary, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class SpanEvent(_message.Message):
    __slots__ = ("timestamp", "name", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    name: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("trace_id", "span_id", "parent_span_id", "name", "kind", "service", "start", "duration_ns", "status_code", "status_message", "attributes", "resource", "events", "children")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ResourceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start: _timestamp_pb2.Timestamp
    duration_ns: int
    status_code: str
    status_message: str
    attributes: _containers.ScalarMap[str, str]
    resource: _containers.ScalarMap[str, str]
    events: _containers.RepeatedCompositeFieldContainer[SpanEvent]
    children: _containers.RepeatedCompositeFieldContainer[Span]
    def __init__(self, trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., parent_span_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., service: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ns: _Optional[int] = ..., status_code: _Optional[str] = ..., status_message: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., resource: _Optional[_Mapping[str, str]] = ..., events: _Optional[_Iterable[_Union[SpanEvent, _Mapping]]] = ..., children: _Optional[_Iterable[_Union[Span, _Mapping]]] = ...) -> None: ...

class GetTraceRequest(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    def __init__(self, trace_id: _Optional[str] = ...) -> None: ...

class GetTraceResponse(_message.Message):
    __slots__ = ("trace_id", "roots", "span_count")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    roots: _containers.RepeatedCompositeFieldContainer[Span]
    span_count: int
    def __init__(self, trace_id: _Optional[str] = ..., roots: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., span_count: _Optional[int] = ...) -> None: ...

class FindAnomaliesRequest(_message.Message):
    __slots__ = ("services", "to", "limit")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[str]
    to: _timestamp_pb2.Timestamp
    limit: int
    def __init__(self, services: _Optional[_Iterable[str]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., **kwargs) -> None: ...

class ErrorCluster(_message.Message):
    __slots__ = ("service", "template", "count", "first_seen", "last_seen", "sample", "sample_trace_id", "level")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    service: str
    template: str
    count: int
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    sample: str
    sample_trace_id: str
    level: str
    def __init__(self, service: _Optional[str] = ..., template: _Optional[str] = ..., count: _Optional[int] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sample: _Optional[str] = ..., sample_trace_id: _Optional[str] = ..., level: _Optional[str] = ...) -> None: ...

class MetricAnomaly(_message.Message):
    __slots__ = ("metric_name", "service", "labels", "baseline_mean", "baseline_stddev", "observed", "z_score", "at", "resource")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ResourceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_MEAN_FIELD_NUMBER: _ClassVar[int]
    BASELINE_STDDEV_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    Z_SCORE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    metric_name: str
    service: str
    labels: _containers.ScalarMap[str, str]
    baseline_mean: float
    baseline_stddev: float
    observed: float
    z_score: float
    at: _timestamp_pb2.Timestamp
    resource: _containers.ScalarMap[str, str]
    def __init__(self, metric_name: _Optional[str] = ..., service: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., baseline_mean: _Optional[float] = ..., baseline_stddev: _Optional[float] = ..., observed: _Optional[float] = ..., z_score: _Optional[float] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resource: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ErrorOperation(_message.Message):
    __slots__ = ("service", "operation", "error_count", "span_count", "sample_status_message", "sample_trace_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    error_count: int
    span_count: int
    sample_status_message: str
    sample_trace_id: str
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., error_count: _Optional[int] = ..., span_count: _Optional[int] = ..., sample_status_message: _Optional[str] = ..., sample_trace_id: _Optional[str] = ...) -> None: ...

class FindAnomaliesResponse(_message.Message):
    __slots__ = ("error_clusters", "metric_anomalies", "error_operations")
    ERROR_CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    METRIC_ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    ERROR_OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    error_clusters: _containers.RepeatedCompositeFieldContainer[ErrorCluster]
    metric_anomalies: _containers.RepeatedCompositeFieldContainer[MetricAnomaly]
    error_operations: _containers.RepeatedCompositeFieldContainer[ErrorOperation]
    def __init__(self, error_clusters: _Optional[_Iterable[_Union[ErrorCluster, _Mapping]]] = ..., metric_anomalies: _Optional[_Iterable[_Union[MetricAnomaly, _Mapping]]] = ..., error_operations: _Optional[_Iterable[_Union[ErrorOperation, _Mapping]]] = ...) -> None: ...

class CompareWindowRequest(_message.Message):
    __slots__ = ("services", "to", "baseline_from", "baseline_to", "step_seconds", "limit")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FROM_FIELD_NUMBER: _ClassVar[int]
    BASELINE_TO_FIELD_NUMBER: _ClassVar[int]
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedScalarFieldContainer[str]
    to: _timestamp_pb2.Timestamp
    baseline_from: _timestamp_pb2.Timestamp
    baseline_to: _timestamp_pb2.Timestamp
    step_seconds: int
    limit: int
    def __init__(self, services: _Optional[_Iterable[str]] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., baseline_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., baseline_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_seconds: _Optional[int] = ..., limit: _Optional[int] = ..., **kwargs) -> None: ...

class BaselineStats(_message.Message):
    __slots__ = ("count", "median", "mad", "q01", "q99", "mean", "stddev")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_FIELD_NUMBER: _ClassVar[int]
    MAD_FIELD_NUMBER: _ClassVar[int]
    Q01_FIELD_NUMBER: _ClassVar[int]
    Q99_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    count: int
    median: float
    mad: float
    q01: float
    q99: float
    mean: float
    stddev: float
    def __init__(self, count: _Optional[int] = ..., median: _Optional[float] = ..., mad: _Optional[float] = ..., q01: _Optional[float] = ..., q99: _Optional[float] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ...) -> None: ...

class SeriesProfile(_message.Message):
    __slots__ = ("metric_name", "service", "labels", "metric_type", "baseline", "points")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    metric_name: str
    service: str
    labels: _containers.ScalarMap[str, str]
    metric_type: str
    baseline: BaselineStats
    points: _containers.RepeatedCompositeFieldContainer[Point]
    def __init__(self, metric_name: _Optional[str] = ..., service: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., metric_type: _Optional[str] = ..., baseline: _Optional[_Union[BaselineStats, _Mapping]] = ..., points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ...) -> None: ...

class OperationStep(_message.Message):
    __slots__ = ("timestamp", "spans", "errors", "p95_ms")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    spans: int
    errors: int
    p95_ms: float
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., spans: _Optional[int] = ..., errors: _Optional[int] = ..., p95_ms: _Optional[float] = ...) -> None: ...

class OperationProfile(_message.Message):
    __slots__ = ("service", "operation", "baseline_spans", "baseline_errors", "baseline_p95_ms", "steps", "sample_status_message", "sample_trace_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SPANS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_P95_MS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    baseline_spans: int
    baseline_errors: int
    baseline_p95_ms: BaselineStats
    steps: _containers.RepeatedCompositeFieldContainer[OperationStep]
    sample_status_message: str
    sample_trace_id: str
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., baseline_spans: _Optional[int] = ..., baseline_errors: _Optional[int] = ..., baseline_p95_ms: _Optional[_Union[BaselineStats, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[OperationStep, _Mapping]]] = ..., sample_status_message: _Optional[str] = ..., sample_trace_id: _Optional[str] = ...) -> None: ...

class LogTemplateProfile(_message.Message):
    __slots__ = ("service", "template", "level", "baseline_count", "points", "first_seen", "last_seen", "sample", "sample_trace_id")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    BASELINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    service: str
    template: str
    level: str
    baseline_count: int
    points: _containers.RepeatedCompositeFieldContainer[Point]
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    sample: str
    sample_trace_id: str
    def __init__(self, service: _Optional[str] = ..., template: _Optional[str] = ..., level: _Optional[str] = ..., baseline_count: _Optional[int] = ..., points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sample: _Optional[str] = ..., sample_trace_id: _Optional[str] = ...) -> None: ...

class CompareWindowResponse(_message.Message):
    __slots__ = ("step_seconds", "baseline_steps", "series", "operations", "log_templates")
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_STEPS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    LOG_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    step_seconds: int
    baseline_steps: int
    series: _containers.RepeatedCompositeFieldContainer[SeriesProfile]
    operations: _containers.RepeatedCompositeFieldContainer[OperationProfile]
    log_templates: _containers.RepeatedCompositeFieldContainer[LogTemplateProfile]
    def __init__(self, step_seconds: _Optional[int] = ..., baseline_steps: _Optional[int] = ..., series: _Optional[_Iterable[_Union[SeriesProfile, _Mapping]]] = ..., operations: _Optional[_Iterable[_Union[OperationProfile, _Mapping]]] = ..., log_templates: _Optional[_Iterable[_Union[LogTemplateProfile, _Mapping]]] = ...) -> None: ...
