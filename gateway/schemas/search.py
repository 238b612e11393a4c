"""The body of `POST /api/<resource>/search`: structured filters (seed 000's shape) with the list's sorting and
paging. Which attributes a list accepts, and which operators each supports, is the service's to say
(vigil/runtime/search.py, docs/lists.md); here only the shape is checked."""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf import struct_pb2
from google.protobuf.message import Message
from pydantic import Field, model_validator

from gateway.schemas.base import DEFAULT_LIMIT, MAX_LIMIT, Body
from vigil.common.v1 import common_pb2
from vigil.runtime.search import MAX_FILTERS, MAX_VALUES, OPERATORS

Operator = Literal[OPERATORS]  # type: ignore[valid-type]


class FilterValue(Body):
    value: str | int | float | bool | None


class Filter(Body):
    attribute: str = Field(min_length=1, max_length=100, description="an attribute of the list (docs/lists.md)")
    operator: Operator
    values: list[FilterValue] = Field(default_factory=list, max_length=MAX_VALUES,
                                      description="none for IS_EMPTY / IS_NOT_EMPTY, two for IS_BETWEEN")


class Search(Body):
    """Filters, all of which must hold, and the list's paging. The body may also be the bare list of filters."""

    filters: list[Filter] = Field(default_factory=list, max_length=MAX_FILTERS)
    sort: str = Field("", description="field to sort by (each list names the fields it accepts)")
    order: str = Field("", description="asc or desc")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="page size")
    offset: int = Field(0, ge=0, le=10_000_000, description="items to skip")
    cursor: str = Field("", max_length=2000, description="next_cursor of the previous page (no offset with it)")

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"filters": data} if isinstance(data, list) else data


def search_message(message: type[Message], body: Search, **fixed: Any) -> Message:
    """A List…Request for the search: its filters and page, plus the `fixed` fields."""
    filters = [common_pb2.Filter(attribute=f.attribute, operator=f.operator,
                                 values=[_value(v.value) for v in f.values]) for f in body.filters]
    page = common_pb2.PageRequest(limit=body.limit, offset=body.offset, sort=body.sort, order=body.order,
                                  cursor=body.cursor)
    return message(filters=filters, page=page, **fixed)


def _value(value: str | int | float | bool | None) -> struct_pb2.Value:
    if value is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=value)
    return struct_pb2.Value(string_value=value)
