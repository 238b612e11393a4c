"""Alert intake and its management (see docs/alerts.md).

Doors (authenticated by the integration key, never by a user's JWT; 202 once Kafka has every alert):
`POST /api/alerts/alertmanager`, `/api/alerts/grafana`, `/api/alerts/generic` with `Authorization: Bearer <key>`
(or the key as the last path segment, `/api/alerts/alertmanager/<key>`, for sources that cannot set headers),
and `POST /v2/enqueue` (PagerDuty Events API v2: `routing_key` in the body; answers in PagerDuty's shape).

Management (tenant-plane users): `/api/integrations` (+ `/{id}/rotate-key`), `GET /api/alerts`,
`GET /api/alerts/{id}`, `GET /api/incidents/{id}/alerts`, `/api/maintenance-windows`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from aiohttp import web
from google.protobuf import json_format
from pydantic import AwareDatetime, Field

from gateway import auth, envelope
from gateway.alerts import formats
from gateway.app import gw
from gateway.clients import call
from gateway.envelope import iso
from gateway.routes.itsm import if_match, query_time
from gateway.validation import Body, body, paging, query_list, refuse_unknown_query
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2, incident_pb2
from vigil.runtime.errors import FieldError, Forbidden, Unauthenticated, ValidationFailed, VigilError

# ------------------------------------------------------------------------------------------------ the doors


async def _admit(request: web.Request, key: str, door: str | None) -> alerts_pb2.Integration:
    """The integration of the key, its tenant active (a suspended tenant is refused like on every route)."""
    g = gw(request)
    integration = await g.alerts.authenticate(g.upstreams, key, door)
    status = await g.identity.tenant_status(integration.tenant_id)
    if status is None:
        raise Unauthenticated("unknown tenant")
    if status != "active":
        raise Forbidden(f"tenant {integration.tenant_id} is {status}")
    return integration


def _door_key(request: web.Request) -> str:
    if "key" in request.match_info:
        return request.match_info["key"]
    header = request.headers.get("Authorization")
    if not header:
        raise Unauthenticated("missing Authorization: Bearer <integration key>")
    return auth.bearer(header)


def door(kind: str):
    @auth.policy("public")
    async def accept(request: web.Request) -> web.Response:
        integration = await _admit(request, _door_key(request), kind)
        raw = await request.read()
        messages = formats.PARSERS[kind](raw, gw(request).alerts.source(integration), datetime.now(UTC))
        await gw(request).alerts.publish(messages)
        return envelope.ok({"accepted": len(messages), "alert_ids": [m.id for m in messages]}, status=202)

    accept.__name__ = f"accept_{kind}"
    return accept


def _pd(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


@auth.policy("public")
async def pagerduty_enqueue(request: web.Request) -> web.Response:
    """PagerDuty Events API v2, answered as PagerDuty answers, so its clients and senders work unchanged."""
    try:
        event = formats.parse_pagerduty_event(await request.read())
        try:
            integration = await _admit(request, event.routing_key, "pagerduty")
        except Unauthenticated:
            return _pd(400, {"status": "invalid event", "message": "Event object is invalid",
                             "errors": ["Invalid routing key"]})
        message = formats.pagerduty_message(event, gw(request).alerts.source(integration), datetime.now(UTC))
        await gw(request).alerts.publish([message])
    except formats.PagerDutyInvalid as err:
        return _pd(400, {"status": "invalid event", "message": "Event object is invalid",
                         "errors": [f"{f.field}: {f.message}" for f in err.fields] or [err.message]})
    except Forbidden as err:
        return _pd(403, {"status": "forbidden", "message": err.message, "errors": [err.message]})
    except VigilError as err:
        if err.http_status == 429:
            return _pd(429, {"status": "throttle exceeded", "message": err.message}, {"Retry-After": "1"})
        if err.http_status >= 500:
            return _pd(503, {"status": "unavailable", "message": err.message}, {"Retry-After": "1"})
        raise
    return _pd(202, {"status": "success", "message": "Event processed", "dedup_key": message.fingerprint})


# ------------------------------------------------------------------------------------------------ integrations

IntegrationType = Literal["alertmanager", "grafana", "pagerduty", "generic"]
Severity = Literal["P1", "P2", "P3", "P4"]
LabelNames = list[str]


class IntegrationSettingsBody(Body):
    default_severity: Severity | None = None
    severity_label: str | None = Field(default=None, min_length=1, max_length=100)
    severity_map: dict[str, Severity] | None = Field(default=None, max_length=50)
    fingerprint_fields: LabelNames | None = Field(default=None, max_length=20)
    group_by: Literal["fingerprint", "group_key", "labels"] | None = None
    group_labels: LabelNames | None = Field(default=None, max_length=20)
    group_window_seconds: int | None = Field(default=None, ge=0, le=2_592_000)
    reopen_window_seconds: int | None = Field(default=None, ge=0, le=2_592_000)
    auto_resolve: Literal["all_resolved", "never"] | None = None
    ci_labels: LabelNames | None = Field(default=None, max_length=20)


class NewIntegration(Body):
    name: str = Field(min_length=1, max_length=200)
    type: IntegrationType
    settings: IntegrationSettingsBody = Field(default_factory=IntegrationSettingsBody)


class IntegrationPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: IntegrationSettingsBody | None = None


def _settings_proto(s: IntegrationSettingsBody) -> tuple[alerts_pb2.IntegrationSettings, list[str]]:
    given = s.model_dump(exclude_unset=True, exclude_none=True)
    return alerts_pb2.IntegrationSettings(**given), sorted(given)


def integration_json(i: alerts_pb2.Integration, key: str | None = None) -> dict[str, Any]:
    s = i.settings
    out = {
        "id": i.id, "name": i.name, "type": i.type, "key_prefix": i.key_prefix,
        "settings": {
            "default_severity": s.default_severity, "severity_label": s.severity_label,
            "severity_map": dict(s.severity_map), "fingerprint_fields": list(s.fingerprint_fields),
            "group_by": s.group_by, "group_labels": list(s.group_labels),
            "group_window_seconds": s.group_window_seconds, "reopen_window_seconds": s.reopen_window_seconds,
            "auto_resolve": s.auto_resolve, "ci_labels": list(s.ci_labels)},
        "created_by": i.created_by, "created_at": iso(i.created_at), "updated_at": iso(i.updated_at),
        "key_rotated_at": iso(i.key_rotated_at), "version": i.version,
    }
    if key is not None:
        out["key"] = key  # shown once: only the hash is kept
    return out


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


@auth.policy("tenant")
async def list_integrations(request: web.Request) -> web.Response:
    refuse_unknown_query(request, {"type", "limit", "offset"})
    limit, offset = paging(request)
    resp = await call(gw(request).upstreams.integrations.ListIntegrations(alerts_pb2.ListIntegrationsRequest(
        type=request.query.get("type", ""), page=common_pb2.PageRequest(limit=limit, offset=offset))))
    return envelope.page([integration_json(i) for i in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant", role="admin")
async def create_integration(request: web.Request) -> web.Response:
    req = await body(request, NewIntegration)
    settings, mask = _settings_proto(req.settings)
    resp = await call(gw(request).upstreams.integrations.CreateIntegration(alerts_pb2.CreateIntegrationRequest(
        name=req.name, type=req.type, settings=settings, settings_mask=mask)))
    return envelope.ok(integration_json(resp.integration, resp.key), status=201,
                       headers=_etag(resp.integration.version))


@auth.policy("tenant")
async def get_integration(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.integrations.GetIntegration(
        alerts_pb2.GetIntegrationRequest(id=request.match_info["id"])))
    return envelope.ok(integration_json(resp.integration), headers=_etag(resp.integration.version))


@auth.policy("tenant", role="admin")
async def patch_integration(request: web.Request) -> web.Response:
    req = await body(request, IntegrationPatch)
    mask = ["name"] if req.name is not None else []
    settings = alerts_pb2.IntegrationSettings()
    if req.settings is not None:
        settings, given = _settings_proto(req.settings)
        mask += [f"settings.{n}" for n in given]
    resp = await call(gw(request).upstreams.integrations.UpdateIntegration(alerts_pb2.UpdateIntegrationRequest(
        id=request.match_info["id"], name=req.name or "", settings=settings, update_mask=mask,
        expected_version=if_match(request))))
    return envelope.ok(integration_json(resp.integration), headers=_etag(resp.integration.version))


@auth.policy("tenant", role="admin")
async def delete_integration(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.integrations.DeleteIntegration(
        alerts_pb2.DeleteIntegrationRequest(id=request.match_info["id"])))
    return envelope.ok(integration_json(resp.integration))


@auth.policy("tenant", role="admin")
async def rotate_key(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.integrations.RotateIntegrationKey(
        alerts_pb2.RotateIntegrationKeyRequest(id=request.match_info["id"])))
    return envelope.ok(integration_json(resp.integration, resp.key), headers=_etag(resp.integration.version))


# ------------------------------------------------------------------------------------------------ alerts

_ALERT_QUERY = {"status", "decision", "integration_id", "fingerprint", "from", "to", "order", "limit", "offset"}


def alert_json(a: alerts_pb2.Alert) -> dict[str, Any]:
    def struct(s) -> dict[str, Any]:
        return json_format.MessageToDict(s) if s.fields else {}

    return {
        "id": a.id, "integration_id": a.integration_id, "source": a.source, "fingerprint": a.fingerprint,
        "status": a.status, "title": a.title, "description": a.description, "severity": a.severity,
        "source_severity": a.source_severity, "labels": dict(a.labels), "annotations": dict(a.annotations),
        "details": struct(a.details), "starts_at": iso(a.starts_at), "ends_at": iso(a.ends_at),
        "received_at": iso(a.received_at), "processed_at": iso(a.processed_at), "url": a.url,
        "group_key": a.group_key, "decision": a.decision, "reason": a.reason, "rule": a.rule,
        "incident_id": a.incident_id or None, "incident_reference": a.incident_reference or None,
        "previous_incident_id": a.previous_incident_id or None,
        "maintenance_window_id": a.maintenance_window_id or None, "ci_ids": list(a.ci_ids),
        "ci_lookup": a.ci_lookup, "change_ids": list(a.change_ids), "change_lookup": a.change_lookup,
    }


async def _alerts_page(request: web.Request, incident_id: str = "") -> web.Response:
    refuse_unknown_query(request, _ALERT_QUERY)
    limit, offset = paging(request)
    order = request.query.get("order", "desc")
    msg = alerts_pb2.ListAlertsRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset, order=order), status=query_list(request, "status"),
        decision=query_list(request, "decision"), integration_id=request.query.get("integration_id", ""),
        fingerprint=request.query.get("fingerprint", ""), incident_id=incident_id)
    for name, field in (("from", "from"), ("to", "to")):
        ts = query_time(request, name)
        if ts is not None:
            getattr(msg, field).CopyFrom(ts)
    resp = await call(gw(request).upstreams.alerts.ListAlerts(msg))
    return envelope.page([alert_json(a) for a in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def list_alerts(request: web.Request) -> web.Response:
    return await _alerts_page(request)


@auth.policy("tenant")
async def get_alert(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.alerts.GetAlert(alerts_pb2.GetAlertRequest(id=request.match_info["id"])))
    return envelope.ok(alert_json(resp.alert))


@auth.policy("tenant")
async def incident_alerts(request: web.Request) -> web.Response:
    # The incident first: another tenant's (or no) incident is a 404, its reference resolves to its id.
    incident = await call(gw(request).upstreams.incident.GetIncident(
        incident_pb2.GetIncidentRequest(id=request.match_info["id"])))
    return await _alerts_page(request, incident.incident.id)


# ------------------------------------------------------------------------------------------------ maintenance


class MatcherBody(Body):
    name: str = Field(min_length=1, max_length=100)
    operator: Literal["=", "!=", "=~", "!~"]
    value: str = Field(max_length=1000)


class NewWindow(Body):
    name: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=5000)
    matchers: list[MatcherBody] = Field(default_factory=list, max_length=20)
    ci_ids: list[str] = Field(default_factory=list, max_length=100)
    integration_ids: list[str] = Field(default_factory=list, max_length=100)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime


class WindowPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=5000)
    matchers: list[MatcherBody] | None = Field(default=None, max_length=20)
    ci_ids: list[str] | None = Field(default=None, max_length=100)
    integration_ids: list[str] | None = Field(default=None, max_length=100)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


def _window_proto(values: dict[str, Any], window_id: str = "") -> alerts_pb2.MaintenanceWindow:
    msg = alerts_pb2.MaintenanceWindow(id=window_id)
    for name, value in values.items():
        if name in ("starts_at", "ends_at"):
            if value is not None:
                getattr(msg, name).FromDatetime(value.astimezone(UTC))
        elif name == "matchers":
            msg.matchers.extend(alerts_pb2.LabelMatcher(**m) for m in value)
        elif name in ("ci_ids", "integration_ids"):
            getattr(msg, name).extend(value)
        else:
            setattr(msg, name, value)
    return msg


def window_json(w: alerts_pb2.MaintenanceWindow) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "comment": w.comment,
            "matchers": [{"name": m.name, "operator": m.operator, "value": m.value} for m in w.matchers],
            "ci_ids": list(w.ci_ids), "integration_ids": list(w.integration_ids), "starts_at": iso(w.starts_at),
            "ends_at": iso(w.ends_at), "created_by": w.created_by, "created_at": iso(w.created_at),
            "updated_at": iso(w.updated_at), "version": w.version}


@auth.policy("tenant")
async def list_windows(request: web.Request) -> web.Response:
    refuse_unknown_query(request, {"active_at", "limit", "offset"})
    limit, offset = paging(request)
    msg = alerts_pb2.ListMaintenanceWindowsRequest(page=common_pb2.PageRequest(limit=limit, offset=offset))
    active_at = query_time(request, "active_at")
    if active_at is not None:
        msg.active_at.CopyFrom(active_at)
    resp = await call(gw(request).upstreams.maintenance.ListMaintenanceWindows(msg))
    return envelope.page([window_json(w) for w in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant", role="responder")
async def create_window(request: web.Request) -> web.Response:
    req = await body(request, NewWindow)
    resp = await call(gw(request).upstreams.maintenance.CreateMaintenanceWindow(
        alerts_pb2.CreateMaintenanceWindowRequest(window=_window_proto(req.model_dump()))))
    return envelope.ok(window_json(resp.window), status=201, headers=_etag(resp.window.version))


@auth.policy("tenant")
async def get_window(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.maintenance.GetMaintenanceWindow(
        alerts_pb2.GetMaintenanceWindowRequest(id=request.match_info["id"])))
    return envelope.ok(window_json(resp.window), headers=_etag(resp.window.version))


@auth.policy("tenant", role="responder")
async def patch_window(request: web.Request) -> web.Response:
    req = await body(request, WindowPatch)
    given = req.model_dump(exclude_unset=True)
    nulls = [k for k, v in given.items() if v is None]
    if nulls:
        raise ValidationFailed("invalid update", [FieldError(k, "cannot be null") for k in nulls])
    resp = await call(gw(request).upstreams.maintenance.UpdateMaintenanceWindow(
        alerts_pb2.UpdateMaintenanceWindowRequest(window=_window_proto(given, request.match_info["id"]),
                                                  update_mask=sorted(given), expected_version=if_match(request))))
    return envelope.ok(window_json(resp.window), headers=_etag(resp.window.version))


@auth.policy("tenant", role="responder")
async def delete_window(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.maintenance.DeleteMaintenanceWindow(
        alerts_pb2.DeleteMaintenanceWindowRequest(id=request.match_info["id"])))
    return envelope.ok(window_json(resp.window))


PLANE = "tenant"
ROUTES = [
    *(route for kind in ("alertmanager", "grafana", "generic") for route in (
        web.post(f"/api/alerts/{kind}", door(kind)), web.post(f"/api/alerts/{kind}/{{key}}", door(kind)))),
    web.post("/v2/enqueue", pagerduty_enqueue),
    web.get("/api/alerts", list_alerts),
    web.get("/api/alerts/{id}", get_alert),
    web.get("/api/incidents/{id}/alerts", incident_alerts),
    web.get("/api/integrations", list_integrations),
    web.post("/api/integrations", create_integration),
    web.get("/api/integrations/{id}", get_integration),
    web.patch("/api/integrations/{id}", patch_integration),
    web.delete("/api/integrations/{id}", delete_integration),
    web.post("/api/integrations/{id}/rotate-key", rotate_key),
    web.get("/api/maintenance-windows", list_windows),
    web.post("/api/maintenance-windows", create_window),
    web.get("/api/maintenance-windows/{id}", get_window),
    web.patch("/api/maintenance-windows/{id}", patch_window),
    web.delete("/api/maintenance-windows/{id}", delete_window),
]
