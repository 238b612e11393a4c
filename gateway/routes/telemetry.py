"""Telemetry (seed 002 observability): JSON ingest and the query API.

Ingest: `POST /api/logs`, `POST /api/metrics`, `POST /api/traces` take JSON batches (`{"logs": [...]}`,
`{"metrics": [...]}`, `{"spans": [...]}`); OTLP/HTTP arrives through gateway/routes/otlp.py. Both are validated
here and normalised into rows in the ClickHouse tables' shape (the v1 row contract, below), written to the
telemetry topics as CloudEvents (binary mode, tenant in `ce_tenantid`, data = newline-delimited JSON rows), and
answered 202 only after Kafka acknowledged them (acks=all): what was accepted is not lost. The observability
service consumes the topics into ClickHouse. When its consumer group lags more than the configured bound the
ingest routes answer 429 with Retry-After; when Kafka cannot take the batch, 503 with Retry-After.

Queries: `GET /api/logs`, `GET /api/metrics/query`, `GET /api/traces`, `GET /api/traces/{trace_id}` and
`GET /api/observability/anomalies`, translated to the ObservabilityService RPCs; pages carry `next_cursor`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic needs these on Python < 3.12
)

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from gateway import auth, envelope
from gateway.app import gw
from gateway.clients import call
from gateway.validation import Body, body, field_errors, query_int, query_list, refuse_unknown_query
from vigil import levels
from vigil.observability.v1 import observability_pb2 as pb
from vigil.runtime import context, topics
from vigil.runtime.cloudevents import CloudEvent
from vigil.runtime.errors import FieldError, Unavailable, ValidationFailed, VigilError

log = logging.getLogger("vigil.gateway.telemetry")

NS = 1_000_000_000
NDJSON = "application/x-ndjson"
ROW_SCHEMA = "vigil.telemetry.rows.v1"
# Kafka's default message limit is 1 MiB; rows are split into messages well below it.
MAX_MESSAGE_BYTES = 512 * 1024
MAX_ITEMS = 10_000
RETRY_AFTER_SECONDS = 2
KIND_TOPIC = {"logs": topics.TELEMETRY_LOGS, "metrics": topics.TELEMETRY_METRICS, "traces": topics.TELEMETRY_TRACES}
SPAN_KINDS = {"unspecified": "Unspecified", "internal": "Internal", "server": "Server", "client": "Client",
              "producer": "Producer", "consumer": "Consumer"}
STATUS_CODES = {"unset": "Unset", "ok": "Ok", "error": "Error"}
HEX = re.compile(r"^[0-9a-f]*$")


class IngestRefused(VigilError):
    """The pipeline is behind: 429 with Retry-After (the OTLP exporters and our SDK back off and retry)."""

    code, http_status = "RATE_LIMIT", 429


# -- the ingest pipeline: producer + backpressure -------------------------------------------------------------


class TelemetryIngest:
    """The gateway's Kafka producer for telemetry and its view of the consumer lag."""

    def __init__(self, bootstrap: str, consumer_group: str, max_lag_messages: int, retention_days: dict[str, int],
                 lag_poll_seconds: float = 1.0) -> None:
        self.bootstrap = bootstrap
        self.consumer_group = consumer_group
        self.max_lag_messages = max_lag_messages
        self.retention_days = retention_days
        self.lag_poll_seconds = lag_poll_seconds
        self.lag = 0
        self.lag_known_at = 0.0
        self.producer: AIOKafkaProducer | None = None
        self._plans: dict[str, tuple[float, int]] = {}
        self._start_lock = asyncio.Lock()
        self._monitor: asyncio.Task | None = None

    async def _producer(self) -> AIOKafkaProducer:
        if self.producer is not None:
            return self.producer
        async with self._start_lock:
            if self.producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap, client_id="vigil-gateway-telemetry", enable_idempotence=True,
                    linger_ms=5, max_request_size=4 * 1024 * 1024,
                    request_timeout_ms=10_000, max_batch_size=1024 * 1024)
                try:
                    await producer.start()
                except Exception as exc:  # noqa: BLE001
                    await producer.stop()
                    raise Unavailable("the telemetry pipeline is unavailable; retry later") from exc
                self.producer = producer
            if self._monitor is None:
                self._monitor = asyncio.create_task(self._watch_lag(), name="telemetry-lag")
        return self.producer

    def check_capacity(self) -> None:
        if self.lag > self.max_lag_messages:
            raise IngestRefused(f"telemetry ingest is {self.lag} batches behind (bound {self.max_lag_messages}); "
                                "retry later")

    async def retention_for(self, request: web.Request, tenant_id: str) -> int:
        cached = self._plans.get(tenant_id)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        tenant = await gw(request).identity.get_tenant(tenant_id)
        days = self.retention_days.get(tenant.plan, self.retention_days.get("free", 7))
        self._plans[tenant_id] = (now + 60.0, days)
        return days

    async def publish(self, kind: str, tenant_id: str, rows: list[bytes]) -> int:
        """Send the rows as one or more messages and wait for the broker's acknowledgement of all of them."""
        self.check_capacity()
        producer = await self._producer()
        topic = KIND_TOPIC[kind]
        futures = []
        try:
            for chunk in _chunks(rows, MAX_MESSAGE_BYTES):
                event = CloudEvent(type=f"telemetry.{kind}", source="vigil/gateway", tenant_id=tenant_id, data=chunk,
                                   dataschema=ROW_SCHEMA, content_type=NDJSON)
                futures.append(await producer.send(topic, value=chunk, key=tenant_id.encode(), headers=event.headers()))
            await asyncio.gather(*futures)
        except Exception as exc:  # noqa: BLE001 - the broker did not take it: the client must retry
            log.warning("telemetry publish failed: %s: %s", type(exc).__name__, exc)
            raise Unavailable("the telemetry pipeline is unavailable; retry later") from exc
        return len(rows)

    async def _watch_lag(self) -> None:
        admin: AIOKafkaAdminClient | None = None
        probe: AIOKafkaConsumer | None = None
        while True:
            try:
                if admin is None:
                    admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                    await admin.start()
                    probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
                    await probe.start()
                assert probe is not None
                described = await admin.describe_topics(list(KIND_TOPIC.values()))
                tps = [TopicPartition(d["topic"], p["partition"]) for d in described if d["error_code"] == 0
                       for p in d["partitions"]]
                committed = await admin.list_consumer_group_offsets(self.consumer_group)
                ends = await probe.end_offsets(tps) if tps else {}
                lag = 0
                for tp, end in ends.items():
                    meta = committed.get(tp)
                    lag += max(0, end - (meta.offset if meta is not None and meta.offset >= 0 else 0))
                self.lag = lag
                self.lag_known_at = time.monotonic()
            except asyncio.CancelledError:
                break
            except Exception as exc:  # noqa: BLE001 - keep the last figure; the publish path reports Kafka trouble
                log.debug("telemetry lag probe: %s", exc)
                for client in (admin, probe):
                    if client is not None:
                        try:
                            await (client.close() if client is admin else client.stop())
                        except Exception:  # noqa: BLE001
                            pass
                admin = probe = None
            await asyncio.sleep(self.lag_poll_seconds)
        for client in (admin, probe):
            if client is not None:
                try:
                    await (client.close() if client is admin else client.stop())
                except Exception:  # noqa: BLE001
                    pass

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            try:
                await self._monitor
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.producer is not None:
            await self.producer.stop()


def _chunks(rows: list[bytes], limit: int) -> Iterable[bytes]:
    buf: list[bytes] = []
    size = 0
    for row in rows:
        if buf and size + len(row) > limit:
            yield b"".join(buf)
            buf, size = [], 0
        buf.append(row)
        size += len(row)
    if buf:
        yield b"".join(buf)


def refusing(handler):
    """429 answers carry Retry-After (the envelope adds it to 503s itself)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except IngestRefused as err:
            return envelope.error(429, err.code, err.message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    return wrapped


def ingest(request: web.Request) -> TelemetryIngest:
    pipeline = gw(request).telemetry
    if pipeline is None:
        raise Unavailable("telemetry ingest is not configured")
    return pipeline


# -- the v1 row contract: one JSON object per row, keys = ClickHouse columns ----------------------------------


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


# -- JSON batch ingest ----------------------------------------------------------------------------------------

Scalar = str | int | float | bool
Attributes = dict[str, Scalar]


# The log batch is the hot path (the benchmark's 50k records/s): it is validated entirely in pydantic-core (Rust)
# into plain dicts, and rows are built from them with no per-field Python checks. Attribute values stay JSON
# scalars; ClickHouse writes numbers and booleans into the String map values itself.


@with_config(ConfigDict(extra="forbid", strict=True))
class LogIn(TypedDict):
    service: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    body: Annotated[str, StringConstraints(max_length=64_000)]
    timestamp: NotRequired[str | int | float | None]
    level: NotRequired[Annotated[str, StringConstraints(pattern=levels.PATTERN)]]
    trace_id: NotRequired[Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{32})?$")]]
    span_id: NotRequired[Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{16})?$")]]
    attributes: NotRequired[Annotated[Attributes, Field(max_length=128)]]
    resource: NotRequired[Annotated[Attributes, Field(max_length=128)]]


@with_config(ConfigDict(extra="forbid", strict=True))
class LogBatch(TypedDict):
    logs: Annotated[list[LogIn], Field(min_length=1, max_length=MAX_ITEMS)]


LOG_BATCH = TypeAdapter(LogBatch)


class MetricIn(Body):
    name: str = Field(min_length=1, max_length=256)
    type: Literal["gauge", "sum", "counter", "histogram"] = "gauge"
    service: str = Field(default="", max_length=256)
    timestamp: str | int | float | None = None
    start_time: str | int | float | None = None
    value: float | int = 0.0
    unit: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=1000)
    temporality: Literal["cumulative", "delta"] = "cumulative"
    monotonic: bool = True
    attributes: Attributes = Field(default_factory=dict, max_length=128)
    resource: Attributes = Field(default_factory=dict, max_length=128)
    count: int = Field(default=0, ge=0)
    sum: float | int = 0.0
    bucket_counts: list[int] = Field(default_factory=list, max_length=256)
    explicit_bounds: list[float | int] = Field(default_factory=list, max_length=255)
    min: float | int = 0.0
    max: float | int = 0.0


class MetricBatch(Body):
    metrics: list[MetricIn] = Field(min_length=1, max_length=MAX_ITEMS)


class SpanEventIn(Body):
    name: str = Field(max_length=256)
    timestamp: str | int | float | None = None
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


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def _attrs(values: dict[str, Scalar]) -> dict[str, str]:
    return {k: _text(v) for k, v in values.items()}


def parse_time(raw: str | int | float | None, name: str, errors: list[FieldError], default_ns: int = 0) -> int:
    """RFC 3339 text, or a Unix time number in seconds (up to 1e11), milliseconds, microseconds or nanoseconds."""
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
        for limit, scale in ((1e11, NS), (1e14, 1_000_000), (1e17, 1_000)):
            if value < limit:
                return int(raw * scale) if isinstance(raw, int) else int(round(value * scale))
        if value > 4e18:
            errors.append(FieldError(name, "is out of range"))
            return 0
        return int(raw)
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
    seconds = int(parsed.timestamp() // 1)
    return seconds * NS + parsed.microsecond * 1000 + extra


def _check_hex(errors: list[FieldError], name: str, value: str, length: int) -> str:
    value = value.lower()
    if value and (len(value) != length or not HEX.match(value)):
        errors.append(FieldError(name, f"must be {length} hex characters"))
    return value


async def _publish(request: web.Request, kind: str, rows: list[bytes]) -> web.Response:
    accepted = await ingest(request).publish(kind, context.current().tenant_id, rows)
    return envelope.ok({"accepted": accepted}, status=202)


@auth.policy("tenant", role="responder")
@refusing
async def ingest_logs(request: web.Request) -> web.Response:
    pipeline = ingest(request)
    pipeline.check_capacity()
    raw = await request.read()
    if not raw.strip():
        raise ValidationFailed("a JSON body is required", [FieldError("body", "is required")])
    try:
        batch = LOG_BATCH.validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed("request body failed validation", field_errors(exc)) from None
    tenant = context.current().tenant_id
    retention = await pipeline.retention_for(request, tenant)
    now = time.time_ns()
    errors: list[FieldError] = []
    dumps = orjson.dumps
    severity_numbers = levels.NUMBERS
    ids = record_ids()
    rows = []
    for i, r in enumerate(batch["logs"]):
        ts = r.get("timestamp")
        ts_ns = ts * NS if type(ts) is int and ts < 100_000_000_000 else (
            ts if type(ts) is int and ts > 100_000_000_000_000_000 else parse_time(ts, f"logs[{i}].timestamp", errors, now))
        level = r.get("level", "info").lower()
        rows.append(dumps({
            "TenantId": tenant, "Timestamp": ts_text(ts_ns), "RecordId": next(ids), "TraceId": r.get("trace_id", "").lower(),
            "SpanId": r.get("span_id", "").lower(), "SeverityText": level.upper(),
            "SeverityNumber": severity_numbers[level], "ServiceName": r["service"], "Body": r["body"],
            "ResourceAttributes": r.get("resource", {}), "LogAttributes": r.get("attributes", {}),
            "RetentionDays": retention}) + b"\n")
        if len(errors) > 50:
            break
    if errors:
        raise ValidationFailed("log batch failed validation", errors)
    return await _publish(request, "logs", rows)


@auth.policy("tenant", role="responder")
@refusing
async def ingest_metrics(request: web.Request) -> web.Response:
    pipeline = ingest(request)
    pipeline.check_capacity()
    batch = await body(request, MetricBatch)
    tenant = context.current().tenant_id
    retention = await pipeline.retention_for(request, tenant)
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
        if len(errors) > 50:
            break
    if errors:
        raise ValidationFailed("metric batch failed validation", errors)
    return await _publish(request, "metrics", rows)


@auth.policy("tenant", role="responder")
@refusing
async def ingest_traces(request: web.Request) -> web.Response:
    pipeline = ingest(request)
    pipeline.check_capacity()
    batch = await body(request, SpanBatch)
    tenant = context.current().tenant_id
    retention = await pipeline.retention_for(request, tenant)
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
        if len(errors) > 50:
            break
    if errors:
        raise ValidationFailed("span batch failed validation", errors)
    return await _publish(request, "traces", rows)


# -- queries --------------------------------------------------------------------------------------------------


def iso(value_ns: int) -> str:
    seconds, nanos = divmod(value_ns, NS)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def ns_of(ts: Timestamp) -> int:
    return ts.seconds * NS + ts.nanos


def timestamp(value_ns: int) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(value_ns)
    return out


@dataclass(frozen=True)
class Window:
    start: Timestamp
    end: Timestamp


def query_window(request: web.Request, start: str, end: str, default_seconds: int = 3600) -> Window:
    """Times as RFC 3339 or Unix seconds; `end` defaults to now and `start` to an hour before `end`."""
    errors: list[FieldError] = []
    end_ns = parse_time(request.query.get(end), end, errors, time.time_ns())
    start_ns = parse_time(request.query.get(start), start, errors, end_ns - default_seconds * NS)
    if errors:
        raise ValidationFailed("invalid time range", errors)
    return Window(timestamp(start_ns), timestamp(end_ns))


DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)?$")
UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS,
         "d": 86400 * NS}


def parse_duration(raw: str, name: str, default_unit: str) -> int:
    match = DURATION.match(raw.strip())
    if not match:
        raise ValidationFailed(f"invalid {name}", [FieldError(name, "must be a duration such as 250ms, 60s, 5m or 1h")])
    value = float(match.group(1)) * UNITS[match.group(2) or default_unit]
    if value > 366 * 86400 * NS:
        raise ValidationFailed(f"invalid {name}", [FieldError(name, "is too long")])
    return int(value)


def _limit(request: web.Request) -> int:
    return query_int(request, "limit", 100, 1, 1000)


LOG_PARAMS = {"service", "level", "from", "to", "q", "trace_id", "limit", "cursor"}


@auth.policy("tenant")
async def query_logs(request: web.Request) -> web.Response:
    refuse_unknown_query(request, LOG_PARAMS)
    window = query_window(request, "from", "to")
    limit = _limit(request)
    q = request.query
    msg = pb.QueryLogsRequest(service=",".join(query_list(request, "service")),
                              level=",".join(query_list(request, "level")), to=window.end, q=q.get("q", ""),
                              trace_id=q.get("trace_id", ""), limit=limit, cursor=q.get("cursor", ""))
    getattr(msg, "from").CopyFrom(window.start)
    resp = await call(gw(request).upstreams.observability.QueryLogs(msg))
    items = [{
        "timestamp": iso(ns_of(r.timestamp)), "service": r.service, "level": r.level,
        "severity_number": r.severity_number, "body": r.body, "trace_id": r.trace_id or None,
        "span_id": r.span_id or None, "attributes": dict(r.attributes), "resource": dict(r.resource),
        "scope": r.scope_name or None,
    } for r in resp.items]
    return envelope.ok({"items": items, "limit": limit, "next_cursor": resp.next_cursor or None})


METRIC_PARAMS = {"metric_name", "start", "end", "step", "aggregation", "by", "label", "service"}
MATCHER = re.compile(r"^([^=!~]+)(=~|!~|!=|=)(.*)$", re.S)


@auth.policy("tenant")
async def query_metrics(request: web.Request) -> web.Response:
    refuse_unknown_query(request, METRIC_PARAMS)
    window = query_window(request, "start", "end")
    q = request.query
    step_raw = q.get("step", "60s")
    step_ns = parse_duration(step_raw, "step", "s")
    if step_ns % NS:
        raise ValidationFailed("invalid step", [FieldError("step", "must be a whole number of seconds")])
    msg = pb.QueryMetricsRequest(metric_name=q.get("metric_name", ""), start=window.start, end=window.end,
                                 step_seconds=min(step_ns // NS, 2**31 - 1), aggregation=q.get("aggregation", "avg"),
                                 group_by=query_list(request, "by"), service=q.get("service", ""))
    for raw in request.query.getall("label", []):
        match = MATCHER.match(raw)
        if not match:
            raise ValidationFailed("invalid label matcher", [FieldError(
                "label", "must be name=value, name!=value, name=~regex or name!~regex")])
        msg.matchers.add(label=match.group(1).strip(), op=match.group(2), value=match.group(3))
    resp = await call(gw(request).upstreams.observability.QueryMetrics(msg))
    return envelope.ok({
        "metric_name": resp.metric_name, "metric_type": resp.metric_type or None, "aggregation": resp.aggregation,
        "step": step_raw, "start": iso(ns_of(window.start)), "end": iso(ns_of(window.end)),
        "series": [{"labels": dict(s.labels),
                    "points": [{"timestamp": iso(ns_of(p.timestamp)), "value": p.value} for p in s.points]}
                   for s in resp.series],
    })


TRACE_PARAMS = {"service", "operation", "from", "to", "min_duration", "status", "limit", "cursor"}


@auth.policy("tenant")
async def query_traces(request: web.Request) -> web.Response:
    refuse_unknown_query(request, TRACE_PARAMS)
    window = query_window(request, "from", "to")
    limit = _limit(request)
    q = request.query
    min_duration = parse_duration(q["min_duration"], "min_duration", "ms") if q.get("min_duration") else 0
    msg = pb.QueryTracesRequest(service=q.get("service", ""), operation=q.get("operation", ""), to=window.end,
                                min_duration_ns=min_duration, status=q.get("status", ""), limit=limit,
                                cursor=q.get("cursor", ""))
    getattr(msg, "from").CopyFrom(window.start)
    resp = await call(gw(request).upstreams.observability.QueryTraces(msg))
    items = [{
        "trace_id": t.trace_id, "root_service": t.root_service, "root_name": t.root_name,
        "start": iso(ns_of(t.start)), "duration_ms": t.duration_ns / 1e6, "span_count": t.span_count,
        "error_count": t.error_count, "services": list(t.services),
    } for t in resp.items]
    return envelope.ok({"items": items, "limit": limit, "next_cursor": resp.next_cursor or None})


def span_json(s: pb.Span) -> dict[str, Any]:
    return {
        "span_id": s.span_id, "parent_span_id": s.parent_span_id or None, "name": s.name, "kind": s.kind,
        "service": s.service, "start": iso(ns_of(s.start)), "duration_ms": s.duration_ns / 1e6,
        "status": {"code": s.status_code, "message": s.status_message},
        "attributes": dict(s.attributes), "resource": dict(s.resource),
        "events": [{"timestamp": iso(ns_of(e.timestamp)), "name": e.name, "attributes": dict(e.attributes)}
                   for e in s.events],
        "children": [span_json(c) for c in s.children],
    }


@auth.policy("tenant")
async def get_trace(request: web.Request) -> web.Response:
    refuse_unknown_query(request, set())
    resp = await call(gw(request).upstreams.observability.GetTrace(
        pb.GetTraceRequest(trace_id=request.match_info["trace_id"])))
    return envelope.ok({"trace_id": resp.trace_id, "span_count": resp.span_count,
                        "spans": [span_json(s) for s in resp.roots]})


ANOMALY_PARAMS = {"service", "from", "to", "limit"}


@auth.policy("tenant")
async def anomalies(request: web.Request) -> web.Response:
    refuse_unknown_query(request, ANOMALY_PARAMS)
    window = query_window(request, "from", "to")
    limit = query_int(request, "limit", 20, 1, 200)
    msg = pb.FindAnomaliesRequest(services=query_list(request, "service"), to=window.end, limit=limit)
    getattr(msg, "from").CopyFrom(window.start)
    resp = await call(gw(request).upstreams.observability.FindAnomalies(msg))
    return envelope.ok({
        "error_clusters": [{
            "service": c.service, "template": c.template, "count": c.count, "level": c.level,
            "first_seen": iso(ns_of(c.first_seen)), "last_seen": iso(ns_of(c.last_seen)), "sample": c.sample,
            "sample_trace_id": c.sample_trace_id or None} for c in resp.error_clusters],
        "metric_anomalies": [{
            "metric_name": a.metric_name, "service": a.service, "labels": dict(a.labels), "resource": dict(a.resource),
            "baseline_mean": a.baseline_mean, "baseline_stddev": a.baseline_stddev, "observed": a.observed,
            "z_score": a.z_score, "at": iso(ns_of(a.at))} for a in resp.metric_anomalies],
        "error_operations": [{
            "service": o.service, "operation": o.operation, "error_count": o.error_count,
            "span_count": o.span_count, "sample_status_message": o.sample_status_message,
            "sample_trace_id": o.sample_trace_id or None} for o in resp.error_operations],
    })


PLANE = "tenant"
ROUTES = [
    web.post("/api/logs", ingest_logs),
    web.get("/api/logs", query_logs),
    web.post("/api/metrics", ingest_metrics),
    web.get("/api/metrics/query", query_metrics),
    web.post("/api/traces", ingest_traces),
    web.get("/api/traces", query_traces),
    web.get("/api/traces/{trace_id}", get_trace),
    web.get("/api/observability/anomalies", anomalies),
]
