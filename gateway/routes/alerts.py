"""Alerts as stored, each with the decision taken on it and why: `GET /api/alerts`, `GET /api/alerts/{id}`,
`GET /api/incidents/{id}/alerts` (read with the incidents' scope: alerts are part of incidents)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.alerts import Alert, AlertQuery
from gateway.schemas.base import ById
from gateway.schemas.common import Page, page
from gateway.schemas.convert import to_proto
from gateway.state import upstreams
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2 as pb
from vigil.incident.v1 import incident_pb2

routes = Routes("tenant", tags=("alerts",), scopes="incidents")


async def _page(request: web.Request, query: AlertQuery, incident_id: str = "") -> dict[str, Any]:
    msg = to_proto(pb.ListAlertsRequest, query, only=("status", "decision", "integration_id", "fingerprint",
                                                      "from_", "to"), skip=("order",), incident_id=incident_id,
                   page=common_pb2.PageRequest(limit=query.limit, offset=query.offset, order=query.order))
    resp = await call(upstreams(request).alerts.ListAlerts(msg))
    return page(resp.items, resp.page.total, query)


@routes.get("/api/alerts", summary="List alerts with their decisions", tool="list_alerts", query=AlertQuery, response=Page[Alert])
async def list_alerts(request: web.Request, query: AlertQuery) -> dict[str, Any]:
    return await _page(request, query)


@routes.get("/api/alerts/{id}", summary="Get an alert and the decision taken on it", tool="get_alert",
            path=ById, response=Alert)
async def get_alert(request: web.Request, path: ById) -> pb.Alert:
    return (await call(upstreams(request).alerts.GetAlert(pb.GetAlertRequest(id=path.id)))).alert


@routes.get("/api/incidents/{id}/alerts", summary="The alerts of an incident", tags=("alerts", "incidents"),
            tool="list_incident_alerts", path=ById, query=AlertQuery, response=Page[Alert])
async def list_incident_alerts(request: web.Request, path: ById, query: AlertQuery) -> dict[str, Any]:
    """The incident is looked up first: another tenant's (or no) incident is a 404; a reference resolves."""
    incident = await call(upstreams(request).incident.GetIncident(incident_pb2.GetIncidentRequest(id=path.id)))
    return await _page(request, query, incident.incident.id)
