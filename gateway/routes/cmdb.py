"""CMDB (seed 002): configuration items, relations, bulk import and blast radius. See docs/cmdb.md.

- `GET/POST /api/cmdb/items` (`?class=&environment=&q=&sort=&order=&limit=&offset=`),
  `GET/PATCH/DELETE /api/cmdb/items/{id}` (PATCH honours `If-Match: <version>`; DELETE: admin)
- `GET/POST /api/cmdb/relations` (`?ci_id=&source_id=&target_id=&type=`), `DELETE /api/cmdb/relations/{id}`,
  `GET /api/cmdb/relation-types`
- `POST /api/cmdb/import` (admin): items and relations in one all-or-nothing call
- `GET /api/cmdb/impact?ci_id=…&depth=&relation_type=&direction=downstream|upstream&limit=&offset=`
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from google.protobuf import json_format
from pydantic import Field

from gateway import auth, envelope
from gateway.app import gw
from gateway.clients import call
from gateway.envelope import iso
from gateway.validation import Body, body, paging, query_int, query_list, refuse_unknown_query
from vigil.cmdb.v1 import cmdb_pb2
from vigil.common.v1 import common_pb2
from vigil.runtime.errors import FieldError, ValidationFailed

Criticality = Literal["low", "medium", "high", "critical"]
Attributes = dict[str, Any]


class NewItem(Body):
    name: str = Field(min_length=1, max_length=255)
    cls: str = Field(alias="class", min_length=1, max_length=64)
    environment: str = Field(default="", max_length=64)
    owner: str = Field(default="", max_length=320)
    criticality: Criticality | Literal[""] = ""
    attributes: Attributes = Field(default_factory=dict)


class ImportItem(NewItem):
    # Content rules (a non-empty name, ...) are left to the service, which names every failing row of the
    # import in one answer, items and relations together.
    name: str = Field(max_length=255)
    # A name local to the import that its relations may use as source_id/target_id.
    ref: str = Field(default="", max_length=128)


class ItemPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    cls: str | None = Field(default=None, alias="class", min_length=1, max_length=64)
    environment: str | None = Field(default=None, min_length=1, max_length=64)
    owner: str | None = Field(default=None, max_length=320)
    criticality: Criticality | None = None
    attributes: Attributes | None = None


class NewRelation(Body):
    source_id: str = Field(min_length=1, max_length=128)
    target_id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=32)


class BulkImport(Body):
    items: list[ImportItem] = Field(default_factory=list, max_length=10_000)
    relations: list[NewRelation] = Field(default_factory=list, max_length=50_000)


def item_json(i: cmdb_pb2.ConfigurationItem) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "class": getattr(i, "class"),
        "environment": i.environment,
        "owner": i.owner,
        "criticality": i.criticality,
        "attributes": json_format.MessageToDict(i.attributes) if i.attributes.fields else {},
        "version": i.version,
        "created_by": i.created_by,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
    }


def impact_item_json(i: cmdb_pb2.ConfigurationItem) -> dict[str, Any]:
    """The CI's identity as the blast radius carries it (attributes and timestamps: GET the item)."""
    return {"id": i.id, "name": i.name, "class": getattr(i, "class"), "environment": i.environment,
            "owner": i.owner, "criticality": i.criticality, "version": i.version}


def relation_json(r: cmdb_pb2.Relation) -> dict[str, Any]:
    return {"id": r.id, "source_id": r.source_id, "target_id": r.target_id, "type": r.type,
            "created_by": r.created_by, "created_at": iso(r.created_at)}


def _new_item_msg(req: NewItem) -> cmdb_pb2.NewItem:
    msg = cmdb_pb2.NewItem(name=req.name, environment=req.environment, owner=req.owner,
                           criticality=req.criticality, ref=getattr(req, "ref", ""), **{"class": req.cls})
    if req.attributes:
        msg.attributes.update(req.attributes)
    return msg


def _etag(i: cmdb_pb2.ConfigurationItem) -> dict[str, str]:
    return {"ETag": f'"{i.version}"'}


def _if_match(request: web.Request) -> int:
    raw = request.headers.get("If-Match")
    if raw is None:
        return 0
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or int(value) < 1:
        raise ValidationFailed("invalid If-Match", [FieldError("If-Match", "must be the item's version, e.g. \"3\"")])
    return int(value)


@auth.policy("tenant", role="responder")
async def create_item(request: web.Request) -> web.Response:
    req = await body(request, NewItem)
    resp = await call(gw(request).upstreams.cmdb.CreateItem(cmdb_pb2.CreateItemRequest(item=_new_item_msg(req))))
    return envelope.ok(item_json(resp.item), status=201, headers=_etag(resp.item))


ITEM_PARAMS = {"class", "environment", "q", "sort", "order", "limit", "offset"}


@auth.policy("tenant")
async def list_items(request: web.Request) -> web.Response:
    refuse_unknown_query(request, ITEM_PARAMS)
    limit, offset = paging(request)
    q = request.query
    msg = cmdb_pb2.ListItemsRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset, sort=q.get("sort", ""), order=q.get("order", "")),
        environment=q.get("environment", ""), q=q.get("q", ""), **{"class": q.get("class", "")})
    resp = await call(gw(request).upstreams.cmdb.ListItems(msg))
    return envelope.page([item_json(i) for i in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant")
async def get_item(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.cmdb.GetItem(cmdb_pb2.GetItemRequest(id=request.match_info["id"])))
    return envelope.ok(item_json(resp.item), headers=_etag(resp.item))


@auth.policy("tenant", role="responder")
async def patch_item(request: web.Request) -> web.Response:
    req = await body(request, ItemPatch)
    sent = req.model_fields_set
    nulls = [FieldError("class" if n == "cls" else n, "may not be null") for n in sorted(sent)
             if getattr(req, n) is None]
    if nulls:
        raise ValidationFailed("request body failed validation", nulls)
    if not sent:
        raise ValidationFailed("nothing to update", [FieldError("body", "name at least one field to change")])
    msg = cmdb_pb2.UpdateItemRequest(id=request.match_info["id"], expected_version=_if_match(request))
    for name in sorted(sent):
        value = getattr(req, name)
        field = "class" if name == "cls" else name
        msg.update_mask.append(field)
        if name == "attributes":
            msg.attributes.update(value)
        else:
            setattr(msg, field, value)
    resp = await call(gw(request).upstreams.cmdb.UpdateItem(msg))
    return envelope.ok(item_json(resp.item), headers=_etag(resp.item))


@auth.policy("tenant", role="admin")
async def delete_item(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.cmdb.DeleteItem(cmdb_pb2.DeleteItemRequest(id=request.match_info["id"])))
    return envelope.ok({**item_json(resp.item), "relations_deleted": resp.relations_deleted})


@auth.policy("tenant", role="responder")
async def create_relation(request: web.Request) -> web.Response:
    req = await body(request, NewRelation)
    resp = await call(gw(request).upstreams.cmdb.CreateRelation(cmdb_pb2.CreateRelationRequest(
        relation=cmdb_pb2.NewRelation(source_id=req.source_id, target_id=req.target_id, type=req.type))))
    return envelope.ok(relation_json(resp.relation), status=201)


RELATION_PARAMS = {"ci_id", "source_id", "target_id", "type", "limit", "offset"}


@auth.policy("tenant")
async def list_relations(request: web.Request) -> web.Response:
    refuse_unknown_query(request, RELATION_PARAMS)
    limit, offset = paging(request)
    q = request.query
    resp = await call(gw(request).upstreams.cmdb.ListRelations(cmdb_pb2.ListRelationsRequest(
        page=common_pb2.PageRequest(limit=limit, offset=offset), ci_id=q.get("ci_id", ""),
        source_id=q.get("source_id", ""), target_id=q.get("target_id", ""), types=query_list(request, "type"))))
    return envelope.page([relation_json(r) for r in resp.items], resp.page.total, limit, offset)


@auth.policy("tenant", role="responder")
async def delete_relation(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.cmdb.DeleteRelation(
        cmdb_pb2.DeleteRelationRequest(id=request.match_info["id"])))
    return envelope.ok(relation_json(resp.relation))


@auth.policy("tenant")
async def relation_types(request: web.Request) -> web.Response:
    resp = await call(gw(request).upstreams.cmdb.ListRelationTypes(cmdb_pb2.ListRelationTypesRequest()))
    items = [{"name": t.name, "propagation": t.propagation, "description": t.description} for t in resp.types]
    return envelope.page(items, len(items), len(items), 0)


@auth.policy("tenant", role="admin")
async def bulk_import(request: web.Request) -> web.Response:
    req = await body(request, BulkImport)
    msg = cmdb_pb2.BulkImportRequest(
        items=[_new_item_msg(i) for i in req.items],
        relations=[cmdb_pb2.NewRelation(source_id=r.source_id, target_id=r.target_id, type=r.type)
                   for r in req.relations])
    # A large import runs longer than an ordinary call.
    resp = await call(gw(request).upstreams.cmdb.BulkImport(msg, timeout=120))
    return envelope.ok({"items_created": resp.items_created, "relations_created": resp.relations_created,
                        "item_ids": list(resp.item_ids), "refs": dict(resp.refs)}, status=201)


IMPACT_PARAMS = {"ci_id", "depth", "relation_type", "direction", "limit", "offset"}


@auth.policy("tenant")
async def impact(request: web.Request) -> web.Response:
    refuse_unknown_query(request, IMPACT_PARAMS)
    ci_ids = query_list(request, "ci_id")
    if not ci_ids:
        raise ValidationFailed("ci_id is required", [FieldError("ci_id", "is required")])
    limit, offset = paging(request)
    depth = query_int(request, "depth", 0, 0, 100)
    direction = request.query.get("direction", "downstream")
    resp = await call(gw(request).upstreams.cmdb.GetImpact(cmdb_pb2.GetImpactRequest(
        ci_ids=ci_ids, depth=depth, relation_types=query_list(request, "relation_type"), direction=direction,
        page=common_pb2.PageRequest(limit=limit, offset=offset))))
    s = resp.summary
    return envelope.ok({
        "items": [{"item": impact_item_json(x.item), "depth": x.depth, "path": list(x.path),
                   "relation_types": list(x.relation_types)} for x in resp.items],
        "total": s.total, "limit": limit, "offset": offset,
        "summary": {"total": s.total, "by_class": dict(s.by_class), "by_environment": dict(s.by_environment),
                    "highest_criticality": s.highest_criticality or None, "max_depth": s.max_depth},
        "unknown_ci_ids": list(resp.unknown_ci_ids),
        "direction": direction, "depth": depth,
    })


PLANE = "tenant"
ROUTES = [
    web.get("/api/cmdb/items", list_items),
    web.post("/api/cmdb/items", create_item),
    web.get("/api/cmdb/items/{id}", get_item),
    web.patch("/api/cmdb/items/{id}", patch_item),
    web.delete("/api/cmdb/items/{id}", delete_item),
    web.get("/api/cmdb/relations", list_relations),
    web.post("/api/cmdb/relations", create_relation),
    web.delete("/api/cmdb/relations/{id}", delete_relation),
    web.get("/api/cmdb/relation-types", relation_types),
    web.post("/api/cmdb/import", bulk_import),
    web.get("/api/cmdb/impact", impact),
]
