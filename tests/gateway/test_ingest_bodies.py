"""Telemetry ingest bodies the gateway cannot read or decode are answered in the envelope (422 VALIDATION_ERROR
naming `body`), never a 500: a body whose Content-Encoding is not what it says, and OTLP/JSON nested deeper than
the interpreter's stack."""

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
