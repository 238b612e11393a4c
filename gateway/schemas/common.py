"""Answers shared by every resource: list pages and the error envelope."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import Field

from gateway.schemas.base import Paging, Resource
from vigil.common.v1 import common_pb2

T = TypeVar("T")


class Page(Resource, Generic[T]):
    """An offset-paged list: `items` from `offset`, `total` matching items in all."""

    items: list[T]
    total: int
    limit: int
    offset: int


class CursorPage(Resource, Generic[T]):
    """A cursor-paged list: pass `next_cursor` as `?cursor=` for the next page; null on the last page."""

    items: list[T]
    limit: int
    next_cursor: str | None


class Listing(Page[T], Generic[T]):
    """A list page that can go on by offset or by cursor (docs/lists.md): pass `next_cursor` as `cursor` for
    the next page; null on the last page."""

    next_cursor: str | None


def listing(items: Any, info: common_pb2.PageInfo, query: Any) -> dict[str, Any]:
    """The source of a `Listing` answer: the items, the service's page info and the query's paging."""
    return {"items": items, "total": info.total, "limit": query.limit, "offset": query.offset,
            "next_cursor": info.next_cursor or None}


def page(items: Any, total: int, query: Paging) -> dict[str, Any]:
    """The source of a `Page` answer: the items (proto messages or dicts) and the query's paging."""
    return {"items": items, "total": total, "limit": query.limit, "offset": query.offset}


def whole(items: Any) -> dict[str, Any]:
    """A `Page` holding a whole, unpaged list."""
    items = list(items)
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


class FieldProblem(Resource):
    field: str = Field(description="the failing field: a body path (`ci_ids[1]`), a query parameter or a header")
    message: str


class ErrorBody(Resource):
    """Every error, on both planes."""

    error: str = Field(description="what went wrong, for people")
    code: str = Field(description="UNAUTHORIZED, FORBIDDEN, NOT_FOUND, VALIDATION_ERROR, RATE_LIMIT, ERROR, "
                                  "INVALID_TRANSITION, QUOTA_EXCEEDED, CONFLICT or UNAVAILABLE")
    trace_id: str = Field(description="the OpenTelemetry trace id of the request")
    fields: list[FieldProblem] | None = Field(None, description="the fields that failed validation")
