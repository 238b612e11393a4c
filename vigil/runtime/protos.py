"""Protobuf's well-known types at a fraction of their generic cost, for the request path (both showed in the profiles
of the incident service, docs/performance.md): a Struct as a dict, as json_format.MessageToDict gives it but with
integral numbers as ints (MessageToDict gives floats; and it walks the message by reflection), and a datetime into a Timestamp (Timestamp.FromDatetime does
calendar arithmetic in Python).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.struct_pb2 import ListValue, Struct, Value
from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXACT = 2**53  # integers up to this are exact in a double


def _value(v: Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        # A Struct carries every number as a double; JSON has one number type. An integral one goes back out as
        # the integer it came in as (a port of 5432, not 5432.0: typed clients refuse a fraction for an int),
        # within the range a double holds exactly.
        n = v.number_value
        return int(n) if n.is_integer() and -_EXACT <= n <= _EXACT else n
    if kind == "bool_value":
        return v.bool_value
    if kind == "struct_value":
        return struct_dict(v.struct_value)
    if kind == "list_value":
        return _list(v.list_value)
    return None


def _list(lv: ListValue) -> list[Any]:
    return [_value(x) for x in lv.values]


def struct_dict(s: Struct) -> dict[str, Any]:
    return {k: _value(v) for k, v in s.fields.items()}


def set_time(ts: Timestamp, at: datetime) -> None:
    """`ts.FromDatetime(at)` for an aware datetime, exact to the microsecond (naive ones are taken as UTC)."""
    delta = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)) - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1000
