"""The gRPC servicer: proto <-> domain. Domain errors propagate to the server interceptor, which maps them."""

from __future__ import annotations

from services.cmdb.service import (
    CmdbService,
    ImpactQuery,
    Item,
    ItemQuery,
    NewItem,
    NewRelation,
    Relation,
    RelationQuery,
)
from vigil.cmdb.v1 import cmdb_pb2, cmdb_pb2_grpc
from vigil.common.v1 import common_pb2
from vigil.runtime import context
from vigil.runtime.protos import struct_dict
from vigil.runtime.search import filters_from_proto

FULL_NAME = cmdb_pb2.DESCRIPTOR.services_by_name["CmdbService"].full_name


def item_to_proto(i: Item) -> cmdb_pb2.ConfigurationItem:
    msg = cmdb_pb2.ConfigurationItem(id=i.id, tenant_id=i.tenant_id, name=i.name, environment=i.environment,
                                     owner=i.owner, criticality=i.criticality, version=i.version,
                                     created_by=i.created_by, **{"class": i.cls})
    if i.created_at.year > 1:  # impact items carry no timestamps
        msg.created_at.FromDatetime(i.created_at)
        msg.updated_at.FromDatetime(i.updated_at)
    if i.attributes:
        msg.attributes.update(i.attributes)
    return msg


def relation_to_proto(r: Relation) -> cmdb_pb2.Relation:
    msg = cmdb_pb2.Relation(id=r.id, tenant_id=r.tenant_id, source_id=r.source_id, target_id=r.target_id,
                            type=r.type, created_by=r.created_by)
    msg.created_at.FromDatetime(r.created_at)
    return msg


def new_item(msg: cmdb_pb2.NewItem) -> NewItem:
    return NewItem(name=msg.name, cls=getattr(msg, "class"), environment=msg.environment, owner=msg.owner,
                   criticality=msg.criticality, attributes=struct_dict(msg.attributes), ref=msg.ref)


def new_relation(msg: cmdb_pb2.NewRelation) -> NewRelation:
    return NewRelation(source_id=msg.source_id, target_id=msg.target_id, type=msg.type)


class CmdbHandlers(cmdb_pb2_grpc.CmdbServiceServicer):
    def __init__(self, service: CmdbService) -> None:
        self.service = service

    async def CreateItem(self, request, _ctx):
        item = await self.service.create_item(context.current(), new_item(request.item))
        return cmdb_pb2.CreateItemResponse(item=item_to_proto(item))

    async def GetItem(self, request, _ctx):
        item = await self.service.get_item(context.current(), request.id)
        return cmdb_pb2.GetItemResponse(item=item_to_proto(item))

    async def BatchGetItems(self, request, _ctx):
        found, missing = await self.service.get_items(context.current(), list(request.ids))
        return cmdb_pb2.BatchGetItemsResponse(items=[item_to_proto(i) for i in found], missing_ids=missing)

    async def ListItems(self, request, _ctx):
        page = request.page
        query = ItemQuery(cls=getattr(request, "class"), environment=request.environment, q=request.q,
                          ids=tuple(request.ids), sort=page.sort or "name", order=page.order or "asc",
                          limit=page.limit or 50, offset=page.offset, filters=filters_from_proto(request.filters),
                          cursor=page.cursor)
        listing = await self.service.list_items(context.current(), query)
        return cmdb_pb2.ListItemsResponse(
            items=[item_to_proto(i) for i in listing.items],
            page=common_pb2.PageInfo(total=listing.total, limit=query.limit, offset=query.offset,
                                     next_cursor=listing.next_cursor))

    async def FindItemsByName(self, request, _ctx):
        found = await self.service.find_items_by_name(context.current(), list(request.names))
        return cmdb_pb2.FindItemsByNameResponse(items=[item_to_proto(i) for i in found])

    async def UpdateItem(self, request, _ctx):
        changes = {}
        for name in request.update_mask:
            if name == "attributes":
                changes[name] = struct_dict(request.attributes)
            elif name in ("name", "class", "environment", "owner", "criticality"):
                changes[name] = getattr(request, name)
            else:
                changes[name] = None  # refused by the domain as an unknown field
        item = await self.service.update_item(context.current(), request.id, changes, request.expected_version)
        return cmdb_pb2.UpdateItemResponse(item=item_to_proto(item))

    async def DeleteItem(self, request, _ctx):
        item, gone = await self.service.delete_item(context.current(), request.id)
        return cmdb_pb2.DeleteItemResponse(item=item_to_proto(item), relations_deleted=len(gone))

    async def CreateRelation(self, request, _ctx):
        relation = await self.service.create_relation(context.current(), new_relation(request.relation))
        return cmdb_pb2.CreateRelationResponse(relation=relation_to_proto(relation))

    async def ListRelations(self, request, _ctx):
        page = request.page
        query = RelationQuery(ci_id=request.ci_id, source_id=request.source_id, target_id=request.target_id,
                              types=tuple(request.types), limit=page.limit or 50, offset=page.offset)
        found, total = await self.service.list_relations(context.current(), query)
        return cmdb_pb2.ListRelationsResponse(
            items=[relation_to_proto(r) for r in found],
            page=common_pb2.PageInfo(total=total, limit=query.limit, offset=query.offset))

    async def DeleteRelation(self, request, _ctx):
        relation = await self.service.delete_relation(context.current(), request.id)
        return cmdb_pb2.DeleteRelationResponse(relation=relation_to_proto(relation))

    async def ListRelationTypes(self, request, _ctx):
        return cmdb_pb2.ListRelationTypesResponse(types=[
            cmdb_pb2.RelationType(name=name, propagation=direction, description=text)
            for name, direction, text in await self.service.relation_types()])

    async def BulkImport(self, request, _ctx):
        done = await self.service.bulk_import(context.current(), [new_item(i) for i in request.items],
                                              [new_relation(r) for r in request.relations])
        return cmdb_pb2.BulkImportResponse(items_created=len(done.items), relations_created=len(done.relations),
                                           item_ids=[i.id for i in done.items], refs=done.refs)

    async def GetImpact(self, request, _ctx):
        page = request.page
        query = ImpactQuery(ci_ids=tuple(request.ci_ids), depth=request.depth,
                            types=tuple(request.relation_types), direction=request.direction or "downstream",
                            limit=page.limit, offset=page.offset, ids_only=request.ids_only)
        impact = await self.service.impact(context.current(), query)
        s = impact.summary
        return cmdb_pb2.GetImpactResponse(
            items=[cmdb_pb2.ImpactedItem(item=item_to_proto(x.item), depth=x.depth, path=x.path,
                                         relation_types=x.relation_types) for x in impact.items],
            summary=cmdb_pb2.ImpactSummary(total=s.total, by_class=s.by_class, by_environment=s.by_environment,
                                           highest_criticality=s.highest_criticality, max_depth=s.max_depth),
            page=common_pb2.PageInfo(total=s.total, limit=query.limit, offset=query.offset),
            unknown_ci_ids=impact.unknown_ci_ids)
