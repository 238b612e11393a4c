"""Telemetry ingest bodies the gateway cannot read or decode are answered in the envelope (422 VALIDATION_ERROR
naming `body`), never a 500: a body whose Content-Encoding is not what it says, and OTLP/JSON nested deeper than
the interpreter's stack; and NaN or Infinity, which are not JSON."""

from __future__ import annotations

import pytest

from tests.support import api

pytestmark = pytest.mark.kafka
PATHS = ("/v1/logs", "/v1/metrics", "/v1/traces", "/api/logs")


@pytest.mark.parametrize("path", PATHS)
async def test_a_body_that_is_not_gzip_is_a_422_not_a_500(gateway_env, acme, path):
    responder = acme["responder"]
    ctype = "application/x-protobuf" if path.startswith("/v1/") else "application/json"
    answer = await api.request(gateway_env["session"], "POST", gateway_env["tenant"] + path, data=b"not gzip at all",
                               headers={**responder.headers, "Content-Type": ctype, "Content-Encoding": "gzip",
                                        "Connection": "close"})
    assert answer.status == 422, answer.body
    assert answer.body["code"] == "VALIDATION_ERROR" and answer.body["fields"][0]["field"] == "body"


@pytest.mark.parametrize("path", PATHS[:3])
async def test_otlp_json_nested_too_deeply_is_a_422(gateway_env, acme, path):
    responder = acme["responder"]
    for body in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 990 + b"1" + b"}" * 990):
        answer = await responder.post(path, data=body, headers={"Content-Type": "application/json"})
        assert answer.status == 422, answer.body
        assert answer.body["fields"] == [{"field": "body", "message": "is nested too deeply"}]


NON_FINITE = [
    ("/api/logs", b'{"logs":[{"service":"s","body":"b","attributes":{"x":NaN}}]}', "NaN"),
    ("/api/metrics", b'{"metrics":[{"name":"m","service":"s","value":Infinity}]}', "Infinity"),
    ("/api/traces", b'{"spans":[{"trace_id":"' + b"a" * 32 + b'","span_id":"' + b"b" * 16 + b'","name":"n",'
     b'"service":"s","start_time":1700000000,"end_time":1700000001,"attributes":{"x":-Infinity}}]}', "-Infinity"),
    ("/api/incidents", b'{"title":"t","severity":"P2","labels":{"x":NaN}}', "NaN"),
]


@pytest.mark.parametrize("path,body,constant", NON_FINITE, ids=[p for p, *_ in NON_FINITE])
async def test_nan_and_infinity_are_refused_not_stored_changed(gateway_env, acme, path, body, constant):
    """Not JSON numbers, but pydantic's parser takes them: they were answered 202/201 and stored as null, "nan"
    or 0. A body that only mentions the words in its strings is taken as before."""
    responder = acme["responder"]
    answer = await responder.post(path, data=body, headers={"Content-Type": "application/json"})
    assert answer.status == 422, answer.body
    assert answer.body["fields"] == [{"field": "body", "message": f"malformed JSON: {constant} is not a JSON number"}]
    words = await responder.post("/api/logs", data=b'{"logs":[{"service":"s","body":"NaN or Infinity?"}]}',
                                 headers={"Content-Type": "application/json"})
    assert words.status == 202, words.body


async def test_otlp_spans_with_invalid_ids_are_counted_in_partial_success(gateway_env, acme):
    """The OTLP answer tells an exporter what was dropped (OTLP/JSON here: ids in hex)."""
    span = {"traceId": "01" * 16, "spanId": "02" * 8, "name": "ok", "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000001000000000"}
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span, {**span, "traceId": "abcd"}]}]}]}
    answer = await acme["responder"].post("/v1/traces", body)
    assert answer.status == 200, answer.body
    assert answer.body["partialSuccess"]["rejectedSpans"] == "1"
    whole = await acme["responder"].post("/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    assert whole.status == 200 and "partialSuccess" not in whole.body
