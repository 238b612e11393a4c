"""CMDB: configuration items, relations, bulk import and blast radius (docs/cmdb.md). The changes on one CI
(`GET /api/cmdb/items/{id}/changes`) are in gateway/routes/itsm.py."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.base import ById
from gateway.schemas.cmdb import (
    BulkImport,
    ConfigurationItem,
    DeletedItem,
    Impact,
    ImpactQuery,
    ImportResult,
    ItemPatch,
    ItemQuery,
    NewItem,
    NewRelation,
    Relation,
    RelationQuery,
    RelationType,
)
from gateway.schemas.common import Listing, Page, listing, page, whole
from gateway.schemas.convert import to_json, to_proto
from gateway.schemas.search import Search, search_message
from gateway.state import upstreams
from gateway.versioning import update_message
from vigil.cmdb.v1 import cmdb_pb2 as pb
from vigil.runtime.errors import Conflict, NotFound

routes = Routes("tenant", tags=("cmdb",), scopes="cmdb")


@routes.get("/api/cmdb/items", summary="List configuration items", tool="list_cis", query=ItemQuery,
            response=Listing[ConfigurationItem])
async def list_cis(request: web.Request, query: ItemQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).cmdb.ListItems(to_proto(pb.ListItemsRequest, query)))
    return listing(resp.items, resp.page, query)


@routes.search("/api/cmdb/items/search", summary="Search configuration items with structured filters",
               body=Search, response=Listing[ConfigurationItem])
async def search_cis(request: web.Request, body: Search) -> dict[str, Any]:
    """Filters on any attribute docs/lists.md names for CMDB items, all of which must hold."""
    resp = await call(upstreams(request).cmdb.ListItems(search_message(pb.ListItemsRequest, body)))
    return listing(resp.items, resp.page, body)


@routes.post("/api/cmdb/items", summary="Create a configuration item", body=NewItem, response=ConfigurationItem,
             status=201)
async def create_ci(request: web.Request, body: NewItem) -> pb.ConfigurationItem:
    msg = pb.CreateItemRequest(item=to_proto(pb.NewItem, body))
    return (await call(upstreams(request).cmdb.CreateItem(msg))).item


@routes.get("/api/cmdb/items/{id}", summary="Get a configuration item",
            tool="get_ci", path=ById, response=ConfigurationItem)
async def get_ci(request: web.Request, path: ById) -> pb.ConfigurationItem:
    return (await call(upstreams(request).cmdb.GetItem(pb.GetItemRequest(id=path.id)))).item


@routes.patch("/api/cmdb/items/{id}", summary="Edit a configuration item", path=ById, body=ItemPatch,
              response=ConfigurationItem, if_match=True)
async def update_ci(request: web.Request, path: ById, body: ItemPatch,
                    expected_version: int) -> pb.ConfigurationItem:
    msg = update_message(pb.UpdateItemRequest, body, id=path.id, expected_version=expected_version)
    return (await call(upstreams(request).cmdb.UpdateItem(msg))).item


@routes.delete("/api/cmdb/items/{id}", summary="Delete a configuration item and its relations", role="admin",
               path=ById, response=DeletedItem)
async def delete_ci(request: web.Request, path: ById) -> dict[str, Any]:
    resp = await call(upstreams(request).cmdb.DeleteItem(pb.DeleteItemRequest(id=path.id)))
    return {**to_json(ConfigurationItem, resp.item), "relations_deleted": resp.relations_deleted}


@routes.get("/api/cmdb/relations", summary="List relations",
            tool="list_relations", query=RelationQuery, response=Page[Relation])
async def list_relations(request: web.Request, query: RelationQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).cmdb.ListRelations(to_proto(pb.ListRelationsRequest, query)))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/cmdb/relations", summary="Relate two configuration items", body=NewRelation, response=Relation,
             status=201, errors=(Conflict,))
async def create_relation(request: web.Request, body: NewRelation) -> pb.Relation:
    msg = pb.CreateRelationRequest(relation=to_proto(pb.NewRelation, body))
    return (await call(upstreams(request).cmdb.CreateRelation(msg))).relation


@routes.delete("/api/cmdb/relations/{id}", summary="Delete a relation", path=ById, response=Relation)
async def delete_relation(request: web.Request, path: ById) -> pb.Relation:
    return (await call(upstreams(request).cmdb.DeleteRelation(pb.DeleteRelationRequest(id=path.id)))).relation


@routes.get("/api/cmdb/relation-types", summary="The relation types and how failure travels along each",
            response=Page[RelationType])
async def list_relation_types(request: web.Request) -> dict[str, Any]:
    resp = await call(upstreams(request).cmdb.ListRelationTypes(pb.ListRelationTypesRequest()))
    return whole(resp.types)


@routes.post("/api/cmdb/import", summary="Import items and relations, all or nothing", role="admin",
             body=BulkImport, response=ImportResult, status=201)
async def import_cmdb(request: web.Request, body: BulkImport) -> pb.BulkImportResponse:
    # A large import runs longer than an ordinary call.
    return await call(upstreams(request).cmdb.BulkImport(to_proto(pb.BulkImportRequest, body), timeout=120))


@routes.get("/api/cmdb/impact", summary="Blast radius (or probable causes) of failing CIs", tool="get_impact",
            query=ImpactQuery, response=Impact, errors=(NotFound,))
async def cmdb_impact(request: web.Request, query: ImpactQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).cmdb.GetImpact(to_proto(pb.GetImpactRequest, query)))
    return {"items": resp.items, "total": resp.summary.total, "limit": query.limit, "offset": query.offset,
            "summary": resp.summary, "unknown_ci_ids": resp.unknown_ci_ids, "direction": query.direction,
            "depth": query.depth}
