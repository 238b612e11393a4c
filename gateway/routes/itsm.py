"""ITSM (seed 002): change requests with approvals and conflict flags, the service catalog, service requests,
blackout windows, and `GET /api/cmdb/items/{id}/changes` (the changes on one CI). See docs/itsm.md.

- `GET/POST /api/itsm/changes`, `GET/PATCH /api/itsm/changes/{id}` (id or CHG-00000001; PATCH edits fields
  in new/assess and moves the state with `status`; `If-Match: <version>`),
  `POST /api/itsm/changes/{id}/approvals`, `POST /api/itsm/changes/{id}/conflict-check`
- `GET/POST /api/itsm/catalog`, `GET/PATCH/DELETE /api/itsm/catalog/{id}` (writes: admin; DELETE retires)
- `GET/POST /api/itsm/requests`, `GET/PATCH /api/itsm/requests/{id}`, `POST /api/itsm/requests/{id}/approvals`
- `GET/POST /api/itsm/blackouts`, `GET/PATCH/DELETE /api/itsm/blackouts/{id}` (writes: admin)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AwareDatetime, Field

from gateway import auth, envelope
from gateway.app import gw
from gateway.clients import call
from gateway.envelope import iso
from gateway.validation import Body, body, paging, query_list, refuse_unknown_query
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.itsm.v1 import itsm_pb2
from vigil.runtime.errors import FieldError, Unavailable, ValidationFailed

ChangeType = Literal["normal", "standard", "emergency"]
RiskLevel = Literal["low", "medium", "high", "critical"]
Decision = Literal["approve", "reject"]
CiIds = list[str]
Details = dict[str, Any]


class NewChange(Body):
    title: str = Field(min_length=1, max_length=500)
    type: ChangeType = "normal"
    risk_level: RiskLevel = "medium"
    requested_start: AwareDatetime
    requested_end: AwareDatetime
    description: str = Field(default="", max_length=20_000)
    implementation_plan: str = Field(default="", max_length=20_000)
    rollback_plan: str = Field(default="", max_length=20_000)
    requested_by: str = Field(default="", max_length=320)
    ci_ids: CiIds = Field(default_factory=list, max_length=100)


class ChangePatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    risk_level: RiskLevel | None = None
    requested_start: AwareDatetime | None = None
    requested_end: AwareDatetime | None = None
    implementation_plan: str | None = Field(default=None, max_length=20_000)
    rollback_plan: str | None = Field(default=None, max_length=20_000)
    ci_ids: CiIds | None = Field(default=None, max_length=100)
    status: str | None = None
    outcome: str | None = None
    close_notes: str | None = Field(default=None, max_length=20_000)


class DecisionBody(Body):
    decision: Decision
    comment: str = Field(default="", max_length=5_000)


class NewCatalogItem(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(default="", max_length=100)
    requires_approval: bool = True
    fulfillment_group: str = Field(default="", max_length=200)


class CatalogPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    category: str | None = Field(default=None, max_length=100)
    requires_approval: bool | None = None
    fulfillment_group: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class NewRequest(Body):
    catalog_item_id: str = Field(min_length=1, max_length=64)
    requested_by: str = Field(default="", max_length=320)
    details: Details = Field(default_factory=dict)


class RequestPatch(Body):
    status: Literal["fulfilled", "cancelled"]
    note: str = Field(default="", max_length=5_000)


class NewBlackout(Body):
    name: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(default="", max_length=2_000)
    ci_ids: CiIds = Field(default_factory=list, max_length=100)


class BlackoutPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=2_000)
    ci_ids: CiIds | None = Field(default=None, max_length=100)


# ---------------------------------------------------------------------------------------------- helpers


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def query_time(request: web.Request, name: str) -> Timestamp | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # a '+' left unencoded arrives as a space
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValidationFailed(f"invalid {name}", [FieldError(name, "must be an ISO 8601 time with a timezone, "
                                                                   "e.g. 2026-04-01T18:00:00Z")])
    return _ts(value)


def if_match(request: web.Request) -> int:
    raw = request.headers.get("If-Match")
    if raw is None:
        return 0
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or int(value) < 1:
        raise ValidationFailed("invalid If-Match", [FieldError("If-Match", "must be the object's version, e.g. \"3\"")])
    return int(value)


def _sent(req: Body) -> set[str]:
    sent = set(req.model_fields_set)
    nulls = [FieldError(name, "may not be null") for name in sorted(sent) if getattr(req, name) is None]
    if nulls:
        raise ValidationFailed("request body failed validation", nulls)
    if not sent:
        raise ValidationFailed("nothing to update", [FieldError("body", "name at least one field to change")])
    return sent


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def approval_json(a: itsm_pb2.Approval) -> dict[str, Any]:
    return {"approver": a.approver, "role": a.role, "decision": a.decision, "comment": a.comment, "at": iso(a.at)}


def change_json(c: itsm_pb2.Change) -> dict[str, Any]:
    return {
        "id": c.id,
        "reference": c.reference,
        "title": c.title,
        "description": c.description,
        "type": c.type,
        "risk_level": c.risk_level,
        "status": c.status,
        "requested_start": iso(c.requested_start),
        "requested_end": iso(c.requested_end),
        "implementation_plan": c.implementation_plan,
        "rollback_plan": c.rollback_plan,
        "requested_by": c.requested_by,
        "ci_ids": list(c.ci_ids),
        "created_by": c.created_by,
        "approval_status": c.approval_status,
        "required_approvals": c.required_approvals,
        "approvals": [approval_json(a) for a in c.approvals],
        "has_conflicts": bool(c.conflicts),
        "conflicts": [{
            "kind": x.kind, "message": x.message, "ci_id": x.ci_id or None, "change_id": x.change_id or None,
            "change_reference": x.change_reference or None, "blackout_id": x.blackout_id or None,
            "related_ci_id": x.related_ci_id or None, "path": list(x.path),
        } for x in c.conflicts],
        "conflict_check": c.conflict_check,
        "conflict_check_note": c.conflict_check_note or None,
        "skipped_stages": list(c.skipped_stages),
        "outcome": c.outcome or None,
        "close_notes": c.close_notes,
        "version": c.version,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "status_times": {k: iso(v) for k, v in c.status_times.items()},
    }


def item_json(i: itsm_pb2.CatalogItem) -> dict[str, Any]:
    return {"id": i.id, "name": i.name, "description": i.description, "category": i.category,
            "requires_approval": i.requires_approval, "active": i.active, "fulfillment_group": i.fulfillment_group,
            "version": i.version, "created_at": iso(i.created_at), "updated_at": iso(i.updated_at)}


def request_json(r: itsm_pb2.ServiceRequest) -> dict[str, Any]:
    return {
        "id": r.id, "reference": r.reference, "catalog_item_id": r.catalog_item_id,
        "catalog_item_name": r.catalog_item_name, "requested_by": r.requested_by, "status": r.status,
        "details": json_format.MessageToDict(r.details) if r.details.fields else {},
        "approvals": [approval_json(a) for a in r.approvals], "created_by": r.created_by,
        "fulfilled_by": r.fulfilled_by or None, "note": r.note, "version": r.version,
        "created_at": iso(r.created_at), "updated_at": iso(r.updated_at),
        "status_times": {k: iso(v) for k, v in r.status_times.items()},
    }


def blackout_json(b: itsm_pb2.Blackout) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "reason": b.reason, "start": iso(b.start), "end": iso(b.end),
            "ci_ids": list(b.ci_ids), "created_by": b.created_by, "version": b.version,
            "created_at": iso(b.created_at), "updated_at": iso(b.updated_at)}


# ---------------------------------------------------------------------------------------------- changes


@auth.policy("tenant", role="responder")
async def create_change(request: web.Request) -> web.Response:
    req = await body(request, NewChange)
    msg = itsm_pb2.CreateChangeRequest(
        title=req.title, type=req.type, risk_level=req.risk_level, requested_start=_ts(req.requested_start),
        requested_end=_ts(req.requested_end), description=req.description,
        implementation_plan=req.implementation_plan, rollback_plan=req.rollback_plan,
        requested_by=req.requested_by, ci_ids=req.ci_ids)
    resp = await call(gw(request).upstreams.itsm.CreateChange(msg))
    return envelope.ok(change_json(resp.change), status=201, headers=_etag(resp.change.version))


CHANGE_PARAMS = {"status", "type", "ci_id", "from", "to", "q", "conflicting", "sort", "order", "limit", "offset"}


def _bool_query(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "").lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ValidationFailed(f"invalid {name}", [FieldError(name, "must be true or false")])


async def _list_changes(request: web.Request, ci_ids: list[str]) -> web.Response:
    limit, offset = paging(request)
    q = request.query
    msg = itsm_pb2.ListChangesRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset, sort=q.get("sort", ""), order=q.get("order", "")),
        status=query_list(request, "status"), type=query_list(request, "type"), ci_ids=ci_ids, q=q.get("q", ""),
        conflicting_only=_bool_query(request, "conflicting"))
    for name in ("from", "to"):
        ts = query_time(request, name)
        if ts is not None:
            getattr(msg, name).CopyFrom(ts)
    resp = await call(gw(request).upstreams.itsm.ListChanges(msg))
    return envelope.page([change_json(c) for c in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def list_changes(request: web.Request) -> web.Response:
    refuse_unknown_query(request, CHANGE_PARAMS)
    return await _list_changes(request, query_list(request, "ci_id"))


@auth.policy("tenant")
async def ci_changes(request: web.Request) -> web.Response:
    """The changes on one CI: the CI must exist in this tenant's CMDB (404 otherwise, whoever owns it).
    With the CMDB down the list is still served: changes are tenant-scoped, so nothing leaks."""
    refuse_unknown_query(request, CHANGE_PARAMS - {"ci_id"})
    ci_id = request.match_info["id"]
    try:
        await call(gw(request).upstreams.cmdb.GetItem(cmdb_pb2.GetItemRequest(id=ci_id)))
    except Unavailable:
        pass
    return await _list_changes(request, [ci_id])


@auth.policy("tenant")
async def get_change(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.itsm.GetChange(itsm_pb2.GetChangeRequest(id=request.match_info["id"])))
    return envelope.ok(change_json(resp.change), headers=_etag(resp.change.version))


@auth.policy("tenant", role="responder")
async def patch_change(request: web.Request) -> web.Response:
    req = await body(request, ChangePatch)
    sent = _sent(req)
    msg = itsm_pb2.UpdateChangeRequest(id=request.match_info["id"], update_mask=sorted(sent),
                                       expected_version=if_match(request))
    for name in sent:
        value = getattr(req, name)
        if name == "ci_ids":
            msg.ci_ids.extend(value)
        elif name in ("requested_start", "requested_end"):
            getattr(msg, name).CopyFrom(_ts(value))
        else:
            setattr(msg, name, value)
    resp = await call(gw(request).upstreams.itsm.UpdateChange(msg))
    return envelope.ok(change_json(resp.change), headers=_etag(resp.change.version))


@auth.policy("tenant", role="responder")
async def decide_change(request: web.Request) -> web.Response:
    req = await body(request, DecisionBody)
    resp = await call(gw(request).upstreams.itsm.DecideChange(itsm_pb2.DecideChangeRequest(
        id=request.match_info["id"], decision=req.decision, comment=req.comment)))
    return envelope.ok(change_json(resp.change), headers=_etag(resp.change.version))


@auth.policy("tenant", role="responder")
async def check_conflicts(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.itsm.CheckChangeConflicts(
        itsm_pb2.CheckChangeConflictsRequest(id=request.match_info["id"])))
    return envelope.ok(change_json(resp.change), headers=_etag(resp.change.version))


# ---------------------------------------------------------------------------------------------- catalog


@auth.policy("tenant", role="admin")
async def create_item(request: web.Request) -> web.Response:
    req = await body(request, NewCatalogItem)
    resp = await call(gw(request).upstreams.itsm.CreateCatalogItem(itsm_pb2.CreateCatalogItemRequest(
        name=req.name, description=req.description, category=req.category,
        requires_approval=req.requires_approval, fulfillment_group=req.fulfillment_group)))
    return envelope.ok(item_json(resp.item), status=201)


@auth.policy("tenant")
async def list_items(request: web.Request) -> web.Response:
    refuse_unknown_query(request, {"category", "q", "include_retired", "limit", "offset"})
    limit, offset = paging(request)
    resp = await call(gw(request).upstreams.itsm.ListCatalogItems(itsm_pb2.ListCatalogItemsRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset), category=request.query.get("category", ""),
        q=request.query.get("q", ""), include_retired=_bool_query(request, "include_retired"))))
    return envelope.page([item_json(i) for i in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def get_item(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.itsm.GetCatalogItem(
        itsm_pb2.GetCatalogItemRequest(id=request.match_info["id"])))
    return envelope.ok(item_json(resp.item))


@auth.policy("tenant", role="admin")
async def patch_item(request: web.Request) -> web.Response:
    req = await body(request, CatalogPatch)
    sent = _sent(req)
    msg = itsm_pb2.UpdateCatalogItemRequest(id=request.match_info["id"], update_mask=sorted(sent))
    for name in sent:
        setattr(msg, name, getattr(req, name))
    resp = await call(gw(request).upstreams.itsm.UpdateCatalogItem(msg))
    return envelope.ok(item_json(resp.item))


@auth.policy("tenant", role="admin")
async def retire_item(request: web.Request) -> web.Response:
    """Retire, not erase: service requests keep pointing at the item; it takes no new requests."""
    resp = await call(gw(request).upstreams.itsm.UpdateCatalogItem(itsm_pb2.UpdateCatalogItemRequest(
        id=request.match_info["id"], update_mask=["active"], active=False)))
    return envelope.ok(item_json(resp.item))


# ---------------------------------------------------------------------------------------------- requests


@auth.policy("tenant", role="responder")
async def submit_request(request: web.Request) -> web.Response:
    req = await body(request, NewRequest)
    msg = itsm_pb2.SubmitRequestRequest(catalog_item_id=req.catalog_item_id, requested_by=req.requested_by)
    if req.details:
        msg.details.update(req.details)
    resp = await call(gw(request).upstreams.itsm.SubmitRequest(msg))
    return envelope.ok(request_json(resp.request), status=201, headers=_etag(resp.request.version))


@auth.policy("tenant")
async def list_requests(request: web.Request) -> web.Response:
    refuse_unknown_query(request, {"status", "catalog_item_id", "requested_by", "limit", "offset"})
    limit, offset = paging(request)
    q = request.query
    resp = await call(gw(request).upstreams.itsm.ListRequests(itsm_pb2.ListRequestsRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset), status=query_list(request, "status"),
        catalog_item_id=q.get("catalog_item_id", ""), requested_by=q.get("requested_by", ""))))
    return envelope.page([request_json(r) for r in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def get_request(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.itsm.GetRequest(itsm_pb2.GetRequestRequest(id=request.match_info["id"])))
    return envelope.ok(request_json(resp.request), headers=_etag(resp.request.version))


@auth.policy("tenant", role="responder")
async def patch_request(request: web.Request) -> web.Response:
    req = await body(request, RequestPatch)
    resp = await call(gw(request).upstreams.itsm.TransitionRequest(itsm_pb2.TransitionRequestRequest(
        id=request.match_info["id"], to_status=req.status, note=req.note, expected_version=if_match(request))))
    return envelope.ok(request_json(resp.request), headers=_etag(resp.request.version))


@auth.policy("tenant", role="responder")
async def decide_request(request: web.Request) -> web.Response:
    req = await body(request, DecisionBody)
    resp = await call(gw(request).upstreams.itsm.DecideRequest(itsm_pb2.DecideRequestRequest(
        id=request.match_info["id"], decision=req.decision, comment=req.comment)))
    return envelope.ok(request_json(resp.request), headers=_etag(resp.request.version))


# ---------------------------------------------------------------------------------------------- blackouts


@auth.policy("tenant", role="admin")
async def create_blackout(request: web.Request) -> web.Response:
    req = await body(request, NewBlackout)
    resp = await call(gw(request).upstreams.itsm.CreateBlackout(itsm_pb2.CreateBlackoutRequest(
        name=req.name, reason=req.reason, start=_ts(req.start), end=_ts(req.end), ci_ids=req.ci_ids)))
    return envelope.ok(blackout_json(resp.blackout), status=201)


@auth.policy("tenant")
async def list_blackouts(request: web.Request) -> web.Response:
    refuse_unknown_query(request, {"from", "to", "limit", "offset"})
    limit, offset = paging(request)
    msg = itsm_pb2.ListBlackoutsRequest(page=common_pb2.PageRequest(limit=limit, offset=offset))
    for name in ("from", "to"):
        ts = query_time(request, name)
        if ts is not None:
            getattr(msg, name).CopyFrom(ts)
    resp = await call(gw(request).upstreams.itsm.ListBlackouts(msg))
    return envelope.page([blackout_json(b) for b in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def get_blackout(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.itsm.GetBlackout(itsm_pb2.GetBlackoutRequest(id=request.match_info["id"])))
    return envelope.ok(blackout_json(resp.blackout))


@auth.policy("tenant", role="admin")
async def patch_blackout(request: web.Request) -> web.Response:
    req = await body(request, BlackoutPatch)
    sent = _sent(req)
    msg = itsm_pb2.UpdateBlackoutRequest(id=request.match_info["id"], update_mask=sorted(sent))
    for name in sent:
        value = getattr(req, name)
        if name == "ci_ids":
            msg.ci_ids.extend(value)
        elif name in ("start", "end"):
            getattr(msg, name).CopyFrom(_ts(value))
        else:
            setattr(msg, name, value)
    resp = await call(gw(request).upstreams.itsm.UpdateBlackout(msg))
    return envelope.ok(blackout_json(resp.blackout))


@auth.policy("tenant", role="admin")
async def delete_blackout(request: web.Request) -> web.Response:
    await call(gw(request).upstreams.itsm.DeleteBlackout(itsm_pb2.DeleteBlackoutRequest(id=request.match_info["id"])))
    return envelope.ok({"id": request.match_info["id"], "deleted": True})


PLANE = "tenant"
ROUTES = [
    web.get("/api/itsm/changes", list_changes),
    web.post("/api/itsm/changes", create_change),
    web.get("/api/itsm/changes/{id}", get_change),
    web.patch("/api/itsm/changes/{id}", patch_change),
    web.post("/api/itsm/changes/{id}/approvals", decide_change),
    web.post("/api/itsm/changes/{id}/conflict-check", check_conflicts),
    web.get("/api/itsm/catalog", list_items),
    web.post("/api/itsm/catalog", create_item),
    web.get("/api/itsm/catalog/{id}", get_item),
    web.patch("/api/itsm/catalog/{id}", patch_item),
    web.delete("/api/itsm/catalog/{id}", retire_item),
    web.get("/api/itsm/requests", list_requests),
    web.post("/api/itsm/requests", submit_request),
    web.get("/api/itsm/requests/{id}", get_request),
    web.patch("/api/itsm/requests/{id}", patch_request),
    web.post("/api/itsm/requests/{id}/approvals", decide_request),
    web.get("/api/itsm/blackouts", list_blackouts),
    web.post("/api/itsm/blackouts", create_blackout),
    web.get("/api/itsm/blackouts/{id}", get_blackout),
    web.patch("/api/itsm/blackouts/{id}", patch_blackout),
    web.delete("/api/itsm/blackouts/{id}", delete_blackout),
    web.get("/api/cmdb/items/{id}/changes", ci_changes),
]
