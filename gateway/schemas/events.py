"""Events as Vigil publishes them outside: the one envelope of webhook deliveries, the live event stream (SSE)
and MCP. `data` is the event's resource as the REST API answers it (the same response model), so a client
parses an `incident.transitioned` delivery with the code that parses `GET /api/incidents/{id}`."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import Field

from gateway.schemas.base import JsonObject, Query, Resource, Time

T = TypeVar("T")


class EventResource(Resource):
    type: str = Field(description="incident, change, request, ci, relation, alert, rca, runbook_run")
    id: str = Field(description="the resource's id; events of one resource are delivered in order")


class Event(Resource, Generic[T]):
    """One event, as delivered by webhooks and the live stream."""

    id: str = Field(description="the event id (the CloudEvent id): the same in a webhook, the stream and the "
                                "event log; receivers de-duplicate on it")
    type: str = Field(description="<resource>.<verb>, e.g. incident.transitioned")
    occurred_at: Time
    tenant_id: str
    actor: str | None = Field(description="who caused it (a user's email, an API key), when known")
    resource: EventResource
    data: T = Field(description="the resource after the event, as the REST API answers it")
    details: JsonObject = Field(description="what the event says beyond the resource: from_status, to_status, "
                                            "changed_fields (only those that apply)")


class StreamQuery(Query):
    types: list[str] = Field(default_factory=list, description="event types or families: incident.*, "
                                                               "change.approved, * (all by default)")
    resource_type: str = Field("", description="only events of this resource type (incident, change, ci, …)")
    resource_id: str = Field("", description="only events of this resource")


def event_schema_name(model: type[Any]) -> str:
    return f"Event[{model.__name__}]"
