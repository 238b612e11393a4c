"""The response envelope of both planes: `{"data": ...}` on success, `{"error", "code", "trace_id"}` on error
(plus `fields` naming what failed validation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from vigil.runtime import telemetry
from vigil.runtime.errors import FieldError, VigilError

JSON = "application/json"


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps({"data": data}), status=status, content_type=JSON, headers=headers)


def page(items: list[Any], total: int, limit: int, offset: int) -> web.Response:
    return ok({"items": items, "total": total, "limit": limit, "offset": offset})


def error(status: int, code: str, message: str, fields: list[FieldError] | None = None,
          headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message, "code": code, "trace_id": telemetry.current_trace_id()}
    if fields:
        body["fields"] = [f.as_dict() for f in fields]
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON, headers=headers)


def from_error(err: VigilError) -> web.Response:
    headers = {"Retry-After": "1"} if err.http_status == 503 else None
    return error(err.http_status, err.code, err.message, err.fields, headers)


def iso(ts: Timestamp) -> str | None:
    """A protobuf Timestamp as RFC 3339 UTC (None when unset)."""
    if not ts.seconds and not ts.nanos:
        return None
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")
