"""The response envelope of both planes: `{"data": ...}` on success, `{"error", "code", "trace_id"}` on error
(plus `fields` naming what failed validation, and `Retry-After` when the error says when to try again)."""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web

from vigil.runtime import telemetry
from vigil.runtime.errors import FieldError, VigilError

JSON = "application/json"


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps({"data": data}), status=status, content_type=JSON, headers=headers)


def error(status: int, code: str, message: str, fields: list[FieldError] | None = None,
          headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message, "code": code, "trace_id": telemetry.current_trace_id()}
    if fields:
        body["fields"] = [f.as_dict() for f in fields]
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON, headers=headers)


def from_error(err: VigilError) -> web.Response:
    headers = None
    if err.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(err.retry_after)))}
    return error(err.http_status, err.code, err.message, err.fields, headers)
