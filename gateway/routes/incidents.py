"""Incidents: list, create, get (by id or INC-00000001), PATCH (fields and/or status, `If-Match`) and the
timeline. The state machine and every business rule are the incident service's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.base import ById
from gateway.schemas.common import Listing, Page, listing, whole
from gateway.schemas.convert import to_proto
from gateway.schemas.incidents import Incident, IncidentPatch, IncidentQuery, NewIncident, TimelineEntry
from gateway.schemas.search import Search, search_message
from gateway.state import upstreams
from gateway.versioning import update_message
from vigil.incident.v1 import incident_pb2 as pb
from vigil.runtime.errors import InvalidTransition

routes = Routes("tenant", tags=("incidents",), scopes="incidents")


@routes.get("/api/incidents", summary="List incidents", tool="list_incidents", query=IncidentQuery,
            response=Listing[Incident])
async def list_incidents(request: web.Request, query: IncidentQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).incident.ListIncidents(to_proto(pb.ListIncidentsRequest, query)))
    return listing(resp.items, resp.page, query)


@routes.search("/api/incidents/search", summary="Search incidents with structured filters",
               tool="search_incidents", body=Search, response=Listing[Incident])
async def search_incidents(request: web.Request, body: Search) -> dict[str, Any]:
    """Filters on any attribute docs/lists.md names for incidents, all of which must hold."""
    resp = await call(upstreams(request).incident.ListIncidents(search_message(pb.ListIncidentsRequest, body)))
    return listing(resp.items, resp.page, body)


@routes.post("/api/incidents", summary="Create an incident", tool="create_incident", body=NewIncident,
             response=Incident, status=201, quota="incidents_per_month")
async def create_incident(request: web.Request, body: NewIncident) -> pb.Incident:
    return (await call(upstreams(request).incident.CreateIncident(to_proto(pb.CreateIncidentRequest, body)))).incident


@routes.get("/api/incidents/{id}", summary="Get an incident by id or reference",
            tool="get_incident", path=ById,
            response=Incident)
async def get_incident(request: web.Request, path: ById) -> pb.Incident:
    return (await call(upstreams(request).incident.GetIncident(pb.GetIncidentRequest(id=path.id)))).incident


@routes.patch("/api/incidents/{id}", summary="Change an incident's fields and/or status (transition it)",
              tool="update_incident", path=ById,
              body=IncidentPatch, response=Incident, if_match=True, errors=(InvalidTransition,))
async def update_incident(request: web.Request, path: ById, body: IncidentPatch,
                          expected_version: int) -> pb.Incident:
    """A status change alone with a `note` is a transition whose timeline entry carries the note; fields and a
    status together land in one transaction with one version bump."""
    upstream = upstreams(request).incident
    msg = update_message(pb.UpdateIncidentRequest, body, ignore=("note",), id=path.id,
                         expected_version=expected_version)
    if body.note and list(msg.update_mask) == ["status"]:
        resp = await call(upstream.TransitionIncident(pb.TransitionIncidentRequest(
            id=path.id, to_status=body.status, note=body.note, expected_version=expected_version)))
    else:
        resp = await call(upstream.UpdateIncident(msg))
    return resp.incident


@routes.get("/api/incidents/{id}/timeline", summary="An incident's timeline, oldest first",
            tool="get_incident_timeline", path=ById,
            response=Page[TimelineEntry])
async def incident_timeline(request: web.Request, path: ById) -> dict[str, Any]:
    resp = await call(upstreams(request).incident.GetTimeline(pb.GetTimelineRequest(id=path.id)))
    return whole(resp.entries)
