"""OpenTelemetry and logging, set up once per process.

Traces: a TracerProvider named after the process; spans are exported over OTLP/HTTP when the standard
OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, or to Vigil itself (VIGIL_SELF_TELEMETRY). The W3C
trace context travels gateway -> gRPC metadata -> Kafka headers -> consumer, so one trace id follows a request end
to end; that id is the `trace_id` of every error body and of every JSON log line.

Sampling: while spans are exported, the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG decide (OTel's
default: parent-based, every root sampled; `parentbased_traceidratio` with a ratio keeps a share of the roots and
every trace a sampled caller started). A process that exports nothing records nothing: its requests, calls and
events still carry and propagate trace ids (error bodies, logs, event headers keep them), but no span is built
only to be dropped (`IncomingSpan`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

_configured = False
# Whether this process's spans go anywhere (an exporter is configured); set by setup().
_recording = False


def setup(process_name: str, log_level: str = "INFO", log_json: bool = True) -> None:
    global _configured, _recording
    if _configured:
        return
    _configured = True
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                     or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    own = SelfTelemetry() if _self_telemetry_on() else None
    _recording = exporting or own is not None
    # None: the SDK's sampler from OTEL_TRACES_SAMPLER (parent-based always-on unless set).
    provider = TracerProvider(resource=Resource.create({"service.name": f"vigil-{process_name}"}),
                              sampler=None if exporting or own is not None else ALWAYS_OFF)
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if own is not None:
        provider.add_span_processor(BatchSpanProcessor(own.exporter("traces")))
    trace.set_tracer_provider(provider)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_name) if log_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if own is not None:
        root.handlers.append(own.start(provider.resource))
    root.setLevel(log_level.upper())
    # Per-request access logs of these libraries are noise at INFO.
    for noisy in ("aiokafka", "aiohttp.access", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str) -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.process_name,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (traceparent, tracestate) into a carrier."""
    propagate.inject(carrier)
    return carrier


_fields_of: tuple[object, frozenset[str]] = (None, frozenset())  # the global propagator and the headers it reads
_ids = RandomIdGenerator()


def extract(carrier: Mapping[str, str]) -> otel_context.Context:
    """The trace context a carrier (HTTP headers, gRPC metadata, event headers) holds, if any."""
    global _fields_of
    textmap = propagate.get_global_textmap()
    if textmap is not _fields_of[0]:
        _fields_of = (textmap, frozenset(textmap.fields))
    # Most requests from outside carry no trace headers: nothing to parse then.
    if not any(field in carrier for field in _fields_of[1]):
        return otel_context.Context()
    return propagate.extract(carrier)


class IncomingSpan:
    """The span of one incoming request, call or event, continuing the trace its carrier names (or starting one),
    made the current span until the block ends; used as `with IncomingSpan(tracer, name, carrier, kind) as span`.

    While this process records spans it is `tracer.start_as_current_span` under the extracted context. Otherwise
    no span is built only to be dropped: the caller's span context itself becomes current (a new, unsampled
    trace id when there is none), so logs, error bodies, `X-Trace-Id` and every call and event made inside carry
    the caller's trace id — the ids a non-recording span would have had, less its own span id, which nothing
    would ever receive. A sampled trace that passes through such a process therefore continues in the
    processes after it that do record, as children of the last span that was recorded."""

    __slots__ = ("_tracer", "_name", "_carrier", "_kind", "_token", "_recorded")

    def __init__(self, tracer: trace.Tracer, name: str, carrier: Mapping[str, str],
                 kind: trace.SpanKind = trace.SpanKind.SERVER) -> None:
        self._tracer, self._name, self._carrier, self._kind = tracer, name, carrier, kind
        self._recorded = None

    def __enter__(self) -> trace.Span:
        parent = extract(self._carrier)
        if _recording:
            self._token = otel_context.attach(parent)
            self._recorded = self._tracer.start_as_current_span(self._name, kind=self._kind)
            return self._recorded.__enter__()
        span = trace.get_current_span(parent)
        if not span.get_span_context().is_valid:
            span = trace.NonRecordingSpan(trace.SpanContext(_ids.generate_trace_id(), _ids.generate_span_id(),
                                                            is_remote=False))
            parent = trace.set_span_in_context(span, parent)
        self._token = otel_context.attach(parent)
        return span

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._recorded is not None:
                self._recorded.__exit__(exc_type, exc, tb)
        finally:
            otel_context.detach(self._token)


# -- self-telemetry: Vigil's own spans, metrics and logs into its own pipeline (VIGIL_SELF_TELEMETRY) -----------


def _self_telemetry_on() -> bool:
    from vigil.runtime.config import CommonSettings

    return CommonSettings().self_telemetry


class SelfTelemetry:
    """OTLP/HTTP exporters pointed at the local gateway's tenant plane (VIGIL_SELF_TELEMETRY_ENDPOINT, default
    http://127.0.0.1:8080), as tenant VIGIL_SELF_TELEMETRY_TENANT (default `vigil`, created by the operator like
    any tenant). The bearer token is minted per request from the gateway's JWT key (VIGIL_JWT_SECRET, or the
    key the embedded gateway keeps in the data dir), read lazily: services start before the gateway creates it.
    Until the tenant exists the gateway answers 401 and those batches are dropped, never retried forever."""

    def __init__(self) -> None:
        from pydantic_settings import BaseSettings, SettingsConfigDict

        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")
            data_dir: str = ".vigil"
            jwt_secret: str = ""
            jwt_issuer: str = "vigil"
            self_telemetry_endpoint: str = "http://127.0.0.1:8080"
            self_telemetry_tenant: str = "vigil"
            self_telemetry_interval_seconds: float = 15.0

        self.settings = Settings()

    def _token(self) -> str:
        import secrets as _secrets
        from pathlib import Path

        import jwt

        key = self.settings.jwt_secret
        if not key:
            path = Path(self.settings.data_dir) / "jwt-secret"
            key = path.read_text().strip() if path.exists() else _secrets.token_urlsafe(32)
        now = int(time.time())
        return jwt.encode({"iss": self.settings.jwt_issuer, "aud": "vigil-tenant", "sub": "self-telemetry@vigil",
                           "role": "responder", "tid": self.settings.self_telemetry_tenant, "iat": now, "nbf": now,
                           "exp": now + 300}, key, algorithm="HS256")

    def _session(self):
        import requests

        owner = self

        class Session(requests.Session):
            def request(self, method, url, *args, **kwargs):  # type: ignore[override]
                headers = dict(kwargs.pop("headers", None) or {})
                headers["Authorization"] = f"Bearer {owner._token()}"
                headers["x-tenant-id"] = owner.settings.self_telemetry_tenant
                return super().request(method, url, *args, headers=headers, **kwargs)

        return Session()

    def exporter(self, signal: str):
        endpoint = f"{self.settings.self_telemetry_endpoint.rstrip('/')}/v1/{signal}"
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(endpoint=endpoint, session=self._session())
        if signal == "metrics":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            return OTLPMetricExporter(endpoint=endpoint, session=self._session())
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(endpoint=endpoint, session=self._session())

    def start(self, resource: Resource) -> logging.Handler:
        """Metrics and logs providers; returns the logging handler that ships log records."""
        from opentelemetry import metrics
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(
            self.exporter("metrics"), export_interval_millis=int(self.settings.self_telemetry_interval_seconds * 1000))
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
        logs = LoggerProvider(resource=resource)
        logs.add_log_record_processor(BatchLogRecordProcessor(self.exporter("logs")))
        handler = LoggingHandler(logger_provider=logs)
        # The exporters' own complaints must not feed back into the exporter.
        handler.addFilter(lambda r: not r.name.startswith(("opentelemetry", "urllib3", "requests")))
        return handler
