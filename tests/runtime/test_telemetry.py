"""`telemetry.IncomingSpan`: the trace an incoming request, call or event runs in. A process that records spans
starts one under the caller's; one that records nothing continues the caller's trace without building a span,
or starts a trace of its own."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vigil.runtime import telemetry

TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
CARRIER = {"traceparent": f"00-{TRACE}-{SPAN}-01", "x-tenant-id": "acme"}


def kept_spans(monkeypatch, recording: bool):
    """A tracer whose finished spans are kept, in a process that records spans (as with an exporter configured)
    or not."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_recording", recording)
    return provider.get_tracer("test"), exporter


@pytest.fixture
def recorded(monkeypatch):
    return kept_spans(monkeypatch, True)


@pytest.fixture
def not_recording(monkeypatch):
    return kept_spans(monkeypatch, False)


def test_a_recording_process_records_a_child_of_the_callers_span(recorded):
    tracer, exporter = recorded
    with telemetry.IncomingSpan(tracer, "GET /x", CARRIER) as span:
        assert telemetry.current_trace_id() == TRACE
        span.set_attribute("http.status_code", 200)
    (kept,) = exporter.get_finished_spans()
    assert kept.name == "GET /x" and kept.kind == trace.SpanKind.SERVER
    assert format(kept.parent.span_id, "016x") == SPAN and format(kept.context.trace_id, "032x") == TRACE
    assert kept.attributes["http.status_code"] == 200
    assert trace.get_current_span() is trace.INVALID_SPAN  # the block's context is left behind


def test_a_recording_process_keeps_the_error_a_block_raised(recorded):
    tracer, exporter = recorded
    with pytest.raises(KeyError), telemetry.IncomingSpan(tracer, "call", {}, trace.SpanKind.CONSUMER):
        raise KeyError("gone")
    (kept,) = exporter.get_finished_spans()
    assert kept.status.status_code == trace.StatusCode.ERROR and kept.events[0].name == "exception"
    assert kept.kind == trace.SpanKind.CONSUMER and kept.parent is None


def test_a_process_that_records_nothing_continues_the_callers_trace_without_a_span(not_recording):
    tracer, exporter = not_recording
    with telemetry.IncomingSpan(tracer, "GET /x", CARRIER) as span:
        assert telemetry.current_trace_id() == TRACE
        assert not span.is_recording()
        carrier = telemetry.inject({})  # what every call and event made inside carries
    assert carrier["traceparent"] == CARRIER["traceparent"]
    assert exporter.get_finished_spans() == ()
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_without_a_callers_trace_a_new_unsampled_one_is_started(not_recording):
    tracer, _ = not_recording
    seen = set()
    for _ in range(3):
        with telemetry.IncomingSpan(tracer, "GET /x", {"x-tenant-id": "acme"}):
            context = trace.get_current_span().get_span_context()
            assert context.is_valid and not context.trace_flags.sampled
            seen.add(telemetry.current_trace_id())
    assert len(seen) == 3


def test_headers_without_a_trace_are_not_parsed_and_any_case_is_read():
    from multidict import CIMultiDict, CIMultiDictProxy

    assert trace.get_current_span(telemetry.extract({"x-request-id": "r1"})) is trace.INVALID_SPAN
    headers = CIMultiDictProxy(CIMultiDict({"Traceparent": CARRIER["traceparent"]}))  # as aiohttp gives them
    assert format(trace.get_current_span(telemetry.extract(headers)).get_span_context().trace_id, "032x") == TRACE
