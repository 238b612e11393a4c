"""JSON log batches -> rows (gateway/ingest/json_batches.py): whatever the batch validator lets through is either
a row ClickHouse takes or a 422 naming the field. A row the INSERT refuses would be answered 202 and then
dead-lettered with every other row of its Kafka message."""

from __future__ import annotations

import json

import orjson
import pytest
from pydantic import TypeAdapter

from gateway.ingest import json_batches
from gateway.schemas.telemetry import LogBatch
from vigil.runtime.errors import ValidationFailed

BATCH = TypeAdapter(LogBatch)
NS = 1_000_000_000


def rows(*records: dict) -> list[dict]:
    batch = BATCH.validate_json(json.dumps({"logs": list(records)}))
    return [orjson.loads(r) for r in json_batches.log_rows(batch, "t1", 7)]


@pytest.mark.parametrize("timestamp", [-5, 10**21, 9 * 10**18, 2**64 + 1])
def test_a_log_timestamp_out_of_range_is_refused_not_sent_on(timestamp):
    with pytest.raises(ValidationFailed) as refused:
        rows({"service": "a", "body": "fine"}, {"service": "a", "body": "x", "timestamp": timestamp})
    assert [f.field for f in refused.value.fields] == ["logs[1].timestamp"]


@pytest.mark.parametrize("timestamp, seconds", [(0, 0), (1_775_037_600, 1_775_037_600),
                                                (1_775_037_600_123, 1_775_037_600),
                                                (1_775_037_600 * NS, 1_775_037_600), (4 * 10**18, 4 * 10**9)])
def test_log_timestamps_in_range_are_kept(timestamp, seconds):
    assert int(rows({"service": "a", "body": "x", "timestamp": timestamp})[0]["Timestamp"]) == seconds


@pytest.mark.parametrize("where", ["attributes", "resource"])
def test_an_attribute_integer_beyond_64_bits_is_a_422_naming_the_map(where):
    with pytest.raises(ValidationFailed) as refused:
        rows({"service": "a", "body": "x", where: {"order": 4711, "n": 2**64}})
    assert [f.field for f in refused.value.fields] == [f"logs[0].{where}"]
    assert rows({"service": "a", "body": "x", where: {"n": 2**64 - 1, "m": -(2**63)}})[0]  # the edges fit


def test_otlp_records_with_invalid_ids_are_dropped_and_counted():
    """OTLP: a span's ids are 16 and 8 bytes and not all zeros; a log record's, when set, the same lengths. Stored,
    such a record could never be read by id; dropped, it is counted for the answer's partial_success."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from gateway.ingest import otlp

    good = {"trace_id": b"\x01" * 16, "span_id": b"\x02" * 8, "name": "ok", "start_time_unix_nano": NS}
    spans = ExportTraceServiceRequest()
    scope = spans.resource_spans.add().scope_spans.add()
    for fields in (good, {**good, "trace_id": b"\xab\xcd"}, {**good, "span_id": b"\x00" * 8},
                   {**good, "parent_span_id": b"\x03" * 3}, {**good, "name": "also ok", "parent_span_id": b"\x03" * 8}):
        scope.spans.add(**fields)
    assert otlp.drop_invalid_ids(spans) == 3
    assert [s.name for s in scope.spans] == ["ok", "also ok"]
    assert len(otlp.span_rows(spans, "t1", 7)) == 2

    logs = ExportLogsServiceRequest()
    records = logs.resource_logs.add().scope_logs.add().log_records
    records.add(time_unix_nano=NS)  # no ids: a valid log record
    records.add(time_unix_nano=NS, trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    records.add(time_unix_nano=NS, trace_id=b"\x01" * 4)
    assert otlp.drop_invalid_ids(logs) == 1 and len(records) == 2
    assert otlp.drop_invalid_ids(logs) == 0  # nothing left to drop, nothing copied
