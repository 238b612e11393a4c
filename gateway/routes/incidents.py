"""Incidents (seed 002): `GET/POST /api/incidents`, `GET/PATCH /api/incidents/{id}` (id or INC-00000001),
`GET /api/incidents/{id}/timeline`. PATCH honours `If-Match: <version>` (409 when stale)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from google.protobuf import json_format
from pydantic import Field

from gateway import auth, envelope
from gateway.app import gw
from gateway.clients import call
from gateway.envelope import iso
from gateway.validation import Body, body, paging, query_list, refuse_unknown_query
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import incident_pb2
from vigil.runtime.errors import FieldError, ValidationFailed

Labels = dict[str, str | int | float | bool | None]


Severity = Literal["P1", "P2", "P3", "P4"]


class NewIncident(Body):
    title: str = Field(min_length=1, max_length=500)
    severity: Severity
    description: str = Field(default="", max_length=20_000)
    source: str = Field(default="", max_length=100)
    ci_ids: list[str] = Field(default_factory=list, max_length=100)
    assignee: str = Field(default="", max_length=320)
    labels: Labels = Field(default_factory=dict)


class IncidentPatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    severity: Severity | None = None
    description: str | None = Field(default=None, max_length=20_000)
    source: str | None = Field(default=None, max_length=100)
    ci_ids: list[str] | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=320)
    labels: Labels | None = None
    status: str | None = None
    resolution_notes: str | None = Field(default=None, max_length=20_000)
    resolved_by: str | None = Field(default=None, max_length=320)
    # A note for the timeline entry of a status change.
    note: str | None = Field(default=None, max_length=5_000)


def incident_json(i: incident_pb2.Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "reference": i.reference,
        "title": i.title,
        "description": i.description,
        "severity": i.severity,
        "status": i.status,
        "source": i.source,
        "ci_ids": list(i.ci_ids),
        "impacted_ci_ids": list(i.impacted_ci_ids),
        "change_ids": list(i.change_ids),
        "assignee": i.assignee,
        "labels": json_format.MessageToDict(i.labels) if i.labels.fields else {},
        "resolution_notes": i.resolution_notes,
        "created_by": i.created_by,
        "resolved_by": i.resolved_by,
        "dedup_key": i.dedup_key,
        "version": i.version,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "status_times": {k: iso(v) for k, v in i.status_times.items()},
    }


def _etag(i: incident_pb2.Incident) -> dict[str, str]:
    return {"ETag": f'"{i.version}"'}


def if_match(request: web.Request) -> int:
    raw = request.headers.get("If-Match")
    if raw is None:
        return 0
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or int(value) < 1:
        raise ValidationFailed("invalid If-Match", [FieldError("If-Match", "must be the incident's version, e.g. \"3\"")])
    return int(value)


@auth.policy("tenant", role="responder")
async def create(request: web.Request) -> web.Response:
    req = await body(request, NewIncident)
    msg = incident_pb2.CreateIncidentRequest(
        title=req.title, severity=req.severity, description=req.description, source=req.source,
        ci_ids=req.ci_ids, assignee=req.assignee)
    if req.labels:
        msg.labels.update(req.labels)
    resp = await call(gw(request).upstreams.incident.CreateIncident(msg))
    return envelope.ok(incident_json(resp.incident), status=201, headers=_etag(resp.incident))


LIST_PARAMS = {"status", "severity", "q", "source", "ci_id", "sort", "order", "limit", "offset"}


@auth.policy("tenant")
async def list_incidents(request: web.Request) -> web.Response:
    refuse_unknown_query(request, LIST_PARAMS)
    limit, offset = paging(request)
    q = request.query
    msg = incident_pb2.ListIncidentsRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset, sort=q.get("sort", ""), order=q.get("order", "")),
        status=query_list(request, "status"), severity=query_list(request, "severity"), q=q.get("q", ""),
        source=q.get("source", ""), ci_id=q.get("ci_id", ""))
    resp = await call(gw(request).upstreams.incident.ListIncidents(msg))
    return envelope.page([incident_json(i) for i in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def get(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.incident.GetIncident(
        incident_pb2.GetIncidentRequest(id=request.match_info["id"])))
    return envelope.ok(incident_json(resp.incident), headers=_etag(resp.incident))


@auth.policy("tenant", role="responder")
async def patch(request: web.Request) -> web.Response:
    req = await body(request, IncidentPatch)
    sent = req.model_fields_set - {"note"}
    nulls = [FieldError(name, "may not be null") for name in sorted(sent) if getattr(req, name) is None]
    if nulls:
        raise ValidationFailed("request body failed validation", nulls)
    if not sent:
        raise ValidationFailed("nothing to update", [FieldError("body", "name at least one field to change")])
    expected = if_match(request)
    upstream = gw(request).upstreams.incident
    key = request.match_info["id"]
    msg = incident_pb2.UpdateIncidentRequest(id=key, update_mask=sorted(sent), expected_version=expected)
    for name in sent:
        value = getattr(req, name)
        if name == "ci_ids":
            msg.ci_ids.extend(value)
        elif name == "labels":
            msg.labels.update(value)
        else:
            setattr(msg, name, value)
    if req.note and sent == {"status"}:
        resp = await call(upstream.TransitionIncident(incident_pb2.TransitionIncidentRequest(
            id=key, to_status=req.status, note=req.note, expected_version=expected)))
    else:
        resp = await call(upstream.UpdateIncident(msg))
    return envelope.ok(incident_json(resp.incident), headers=_etag(resp.incident))


@auth.policy("tenant")
async def timeline(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.incident.GetTimeline(
        incident_pb2.GetTimelineRequest(id=request.match_info["id"])))
    items = [{
        "id": e.id, "kind": e.kind, "from_status": e.from_status or None, "to_status": e.to_status or None,
        "actor": e.actor, "message": e.message, "at": iso(e.at),
        "changes": json_format.MessageToDict(e.changes) if e.changes.fields else {},
    } for e in resp.entries]
    return envelope.page(items, len(items), len(items), 0)


PLANE = "tenant"
ROUTES = [
    web.get("/api/incidents", list_incidents),
    web.post("/api/incidents", create),
    web.get("/api/incidents/{id}", get),
    web.patch("/api/incidents/{id}", patch),
    web.get("/api/incidents/{id}/timeline", timeline),
]
