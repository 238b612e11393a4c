"""The audit log (gateway/audit.py): filters and entries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import MAX_LIMIT, Query, Resource, Time
from gateway.schemas.itsm import QueryTime


class AuditQuery(Query):
    actor: str = Field("", max_length=320, description="a user's email, `api_key:<id>`, the operator's email")
    method: Literal["", "POST", "PUT", "PATCH", "DELETE"] = ""
    route: str = Field("", max_length=200, description="a prefix of the route template: `/api/incidents` "
                                                       "matches `/api/incidents/{id}` too")
    resource_id: str = Field("", max_length=200)
    status: str = Field("", pattern=r"^([1-5]\d\d|[1-5]xx)?$", description="an HTTP status (`403`) or class "
                                                                          "(`4xx`)")
    from_: QueryTime | None = Field(None, alias="from", description="entries at or after this time")
    to: QueryTime | None = Field(None, description="entries before this time")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", max_length=500, description="`next_cursor` of the previous page")


class OperatorAuditQuery(AuditQuery):
    tenant_id: str = Field("", max_length=64, description="one tenant's entries; empty: every tenant's and the "
                                                          "control plane's own")


class AuditEntry(Resource):
    id: str
    at: Time
    plane: Literal["tenant", "control"]
    tenant_id: str = Field(description="empty for control-plane actions on no tenant")
    actor: str
    actor_kind: Literal["user", "operator", "api_key", "integration"]
    method: str
    route: str = Field(description="the route template, e.g. `/api/incidents/{id}`")
    path: str
    resource_id: str = Field(description="the object acted on (a create: the new one's id)")
    status: int
    code: str = Field(description="the error code when it failed, else empty")
    trace_id: str
    source_ip: str
    user_agent: str
