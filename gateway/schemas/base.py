"""The base classes and markers every resource schema is written with.

A resource's module (`gateway/schemas/<resource>.py`) holds its request models (`Body` for JSON bodies,
`Query` for query strings, `Path` for path parameters) and its response model (`Resource`). From them come the
validation of requests, the JSON answers (gateway/schemas/convert.py turns the service's proto message into the
response model's JSON, field by field, without validating it at run time), the OpenAPI document, and the
schemas of MCP tools and webhook payloads.

Markers, used with `Annotated[...]`:
- `ProtoField("ci_ids")`: the proto field this model field is (when the names differ).
- `Derived(fn)`: a response field computed from the source message (`has_conflicts` from `conflicts`); from
  nothing else (no clock, no request): list items' JSON is memoised by the message's bytes.
- `NoSplit()`: a repeated query parameter whose values may hold commas (`?label=a=b,c`).
A response field typed `str | None` answers null where the proto string is empty; `Time` and `NanoTime` are
RFC 3339 UTC text (microseconds, or nanoseconds for telemetry) from a proto Timestamp or a datetime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError


@dataclass(frozen=True, slots=True)
class ProtoField:
    name: str


@dataclass(frozen=True, slots=True)
class Derived:
    compute: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class NoSplit:
    pass


@dataclass(frozen=True, slots=True)
class Precision:
    nanoseconds: bool


def invalid(message: str) -> PydanticCustomError:
    """Raise from a validator to fail a field with exactly this message."""
    return PydanticCustomError("invalid", message)


Time = Annotated[datetime, Precision(nanoseconds=False)]
NanoTime = Annotated[datetime, Precision(nanoseconds=True)]


def in_utc(value: datetime) -> datetime:
    """The same instant in UTC; a time that falls outside the years 1-9999 once in UTC (`9999-12-31T23:59:59-14:00`)
    fails its field instead of overflowing later, in a conversion or a comparison (a 500). A naive time (where a
    model takes one) is left as it is."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise invalid("is out of range: in UTC it must fall within the years 1 to 9999") from None


# A time in a JSON body: RFC 3339 with a zone, handed on as the same instant in UTC.
AwareTime = Annotated[AwareDatetime, AfterValidator(in_utc)]
# A JSON object of free-form values (a proto Struct).
JsonObject = dict[str, Any]


class Body(BaseModel):
    """A JSON request body: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=100_000)


class Query(BaseModel):
    """A query string: values arrive as text and are converted; unknown parameters refused. A `list[...]` field
    takes `?a=x,y` and `?a=x&a=y` alike (unless marked `NoSplit`); an empty value counts as absent."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Path(BaseModel):
    """Path parameters."""

    model_config = ConfigDict(extra="forbid")


class Resource(BaseModel):
    """A response model. Never validated at run time (answers are built from the proto by the compiled converter);
    the tests validate real answers against it, and unknown fields there fail them."""

    model_config = ConfigDict(extra="forbid")


# -- shared request pieces ------------------------------------------------------------------------------------

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Paging(Query):
    """Offset paging; `limit` default 50, max 200."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="page size")
    offset: int = Field(0, ge=0, le=10_000_000, description="items to skip")


class Cursor(Query):
    """Keyset paging for the lists that offer it (docs/lists.md)."""

    cursor: str = Field("", max_length=2000, description="next_cursor of the previous page, as it was; with the "
                                                         "same sort, order and filters, and no offset")


class Sorting(Query):
    sort: str = Field("", description="field to sort by (each list names the fields it accepts)")
    order: str = Field("", description="asc or desc")


class ById(Path):
    id: str = Field(description="the id (UUID) or the reference")
