"""ITSM: change requests with approvals and conflict flags, the service catalog, service requests, blackout
windows, and the changes on one CI. The state machines and rules are the ITSM service's (docs/itsm.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.base import ById
from gateway.schemas.common import Listing, Page, listing, page
from gateway.schemas.convert import to_proto
from gateway.schemas.itsm import (
    Blackout,
    BlackoutPatch,
    BlackoutQuery,
    CatalogItem,
    CatalogPatch,
    CatalogQuery,
    Change,
    ChangePatch,
    ChangeQuery,
    CiChangeQuery,
    DecisionBody,
    Deleted,
    NewBlackout,
    NewCatalogItem,
    NewChange,
    NewRequest,
    RequestPatch,
    RequestQuery,
    ServiceRequest,
)
from gateway.schemas.search import Search, search_message
from gateway.state import upstreams
from gateway.versioning import update_message
from vigil.cmdb.v1 import cmdb_pb2
from vigil.itsm.v1 import itsm_pb2 as pb
from vigil.runtime.errors import Conflict, InvalidTransition, Unavailable

routes = Routes("tenant", tags=("itsm",), scopes="itsm")

# -- changes ----------------------------------------------------------------------------------------------------


@routes.get("/api/itsm/changes", summary="List change requests (`ci_id`: what changed on these CIs)",
            tool="list_changes", query=ChangeQuery, response=Listing[Change])
async def list_changes(request: web.Request, query: ChangeQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).itsm.ListChanges(to_proto(pb.ListChangesRequest, query)))
    return listing(resp.items, resp.page, query)


@routes.search("/api/itsm/changes/search", summary="Search change requests with structured filters",
               tool="search_changes", body=Search, response=Listing[Change])
async def search_changes(request: web.Request, body: Search) -> dict[str, Any]:
    """Filters on any attribute docs/lists.md names for changes, all of which must hold."""
    resp = await call(upstreams(request).itsm.ListChanges(search_message(pb.ListChangesRequest, body)))
    return listing(resp.items, resp.page, body)


@routes.get("/api/cmdb/items/{id}/changes", summary="The change requests on one CI", tool="list_ci_changes",
            tags=("itsm", "cmdb"), path=ById, query=CiChangeQuery, response=Listing[Change])
async def list_ci_changes(request: web.Request, path: ById, query: CiChangeQuery) -> dict[str, Any]:
    """The CI must exist in this tenant's CMDB (404 otherwise, whoever owns it). With the CMDB down the list is
    still served: changes are tenant-scoped, so nothing leaks."""
    try:
        await call(upstreams(request).cmdb.GetItem(cmdb_pb2.GetItemRequest(id=path.id)))
    except Unavailable:
        pass
    resp = await call(upstreams(request).itsm.ListChanges(to_proto(pb.ListChangesRequest, query, ci_ids=[path.id])))
    return listing(resp.items, resp.page, query)


@routes.post("/api/itsm/changes", summary="Request a change", body=NewChange, response=Change, status=201)
async def create_change(request: web.Request, body: NewChange) -> pb.Change:
    return (await call(upstreams(request).itsm.CreateChange(to_proto(pb.CreateChangeRequest, body)))).change


@routes.get("/api/itsm/changes/{id}", summary="Get a change by id or reference",
            tool="get_change", path=ById, response=Change)
async def get_change(request: web.Request, path: ById) -> pb.Change:
    return (await call(upstreams(request).itsm.GetChange(pb.GetChangeRequest(id=path.id)))).change


@routes.patch("/api/itsm/changes/{id}", summary="Edit a change and/or move it along its states", path=ById,
              body=ChangePatch, response=Change, if_match=True, errors=(InvalidTransition,))
async def update_change(request: web.Request, path: ById, body: ChangePatch, expected_version: int) -> pb.Change:
    msg = update_message(pb.UpdateChangeRequest, body, id=path.id, expected_version=expected_version)
    return (await call(upstreams(request).itsm.UpdateChange(msg))).change


@routes.post("/api/itsm/changes/{id}/approvals", summary="Approve or reject a change", path=ById,
             body=DecisionBody, response=Change, errors=(InvalidTransition, Conflict))
async def decide_change(request: web.Request, path: ById, body: DecisionBody) -> pb.Change:
    msg = to_proto(pb.DecideChangeRequest, body, id=path.id)
    return (await call(upstreams(request).itsm.DecideChange(msg))).change


@routes.post("/api/itsm/changes/{id}/conflict-check", summary="Check a change for conflicts again", path=ById,
             response=Change)
async def check_change_conflicts(request: web.Request, path: ById) -> pb.Change:
    resp = await call(upstreams(request).itsm.CheckChangeConflicts(pb.CheckChangeConflictsRequest(id=path.id)))
    return resp.change


# -- catalog ----------------------------------------------------------------------------------------------------


@routes.get("/api/itsm/catalog", summary="List the service catalog", query=CatalogQuery,
            response=Page[CatalogItem])
async def list_catalog_items(request: web.Request, query: CatalogQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).itsm.ListCatalogItems(to_proto(pb.ListCatalogItemsRequest, query)))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/itsm/catalog", summary="Add a catalog item", role="admin", body=NewCatalogItem,
             response=CatalogItem, status=201, errors=(Conflict,))
async def create_catalog_item(request: web.Request, body: NewCatalogItem) -> pb.CatalogItem:
    return (await call(upstreams(request).itsm.CreateCatalogItem(to_proto(pb.CreateCatalogItemRequest, body)))).item


@routes.get("/api/itsm/catalog/{id}", summary="Get a catalog item", path=ById, response=CatalogItem)
async def get_catalog_item(request: web.Request, path: ById) -> pb.CatalogItem:
    return (await call(upstreams(request).itsm.GetCatalogItem(pb.GetCatalogItemRequest(id=path.id)))).item


@routes.patch("/api/itsm/catalog/{id}", summary="Edit a catalog item", role="admin", path=ById, body=CatalogPatch,
              response=CatalogItem, errors=(Conflict,))
async def update_catalog_item(request: web.Request, path: ById, body: CatalogPatch) -> pb.CatalogItem:
    msg = update_message(pb.UpdateCatalogItemRequest, body, id=path.id)
    return (await call(upstreams(request).itsm.UpdateCatalogItem(msg))).item


@routes.delete("/api/itsm/catalog/{id}", summary="Retire a catalog item", role="admin", path=ById,
               response=CatalogItem)
async def retire_catalog_item(request: web.Request, path: ById) -> pb.CatalogItem:
    """Retire, not erase: service requests keep pointing at the item; it takes no new requests."""
    resp = await call(upstreams(request).itsm.UpdateCatalogItem(pb.UpdateCatalogItemRequest(
        id=path.id, update_mask=["active"], active=False)))
    return resp.item


# -- service requests -------------------------------------------------------------------------------------------


@routes.get("/api/itsm/requests", summary="List service requests", query=RequestQuery,
            response=Listing[ServiceRequest])
async def list_service_requests(request: web.Request, query: RequestQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).itsm.ListRequests(to_proto(pb.ListRequestsRequest, query)))
    return listing(resp.items, resp.page, query)


@routes.search("/api/itsm/requests/search", summary="Search service requests with structured filters",
               body=Search, response=Listing[ServiceRequest])
async def search_service_requests(request: web.Request, body: Search) -> dict[str, Any]:
    """Filters on any attribute docs/lists.md names for service requests, all of which must hold."""
    resp = await call(upstreams(request).itsm.ListRequests(search_message(pb.ListRequestsRequest, body)))
    return listing(resp.items, resp.page, body)


@routes.post("/api/itsm/requests", summary="Submit a service request", body=NewRequest, response=ServiceRequest,
             status=201)
async def submit_service_request(request: web.Request, body: NewRequest) -> pb.ServiceRequest:
    return (await call(upstreams(request).itsm.SubmitRequest(to_proto(pb.SubmitRequestRequest, body)))).request


@routes.get("/api/itsm/requests/{id}", summary="Get a service request by id or reference", path=ById,
            response=ServiceRequest)
async def get_service_request(request: web.Request, path: ById) -> pb.ServiceRequest:
    return (await call(upstreams(request).itsm.GetRequest(pb.GetRequestRequest(id=path.id)))).request


@routes.patch("/api/itsm/requests/{id}", summary="Fulfil or cancel a service request", path=ById,
              body=RequestPatch, response=ServiceRequest, if_match=True, errors=(InvalidTransition,))
async def update_service_request(request: web.Request, path: ById, body: RequestPatch,
                                 expected_version: int) -> pb.ServiceRequest:
    msg = pb.TransitionRequestRequest(id=path.id, to_status=body.status, note=body.note,
                                      expected_version=expected_version)
    return (await call(upstreams(request).itsm.TransitionRequest(msg))).request


@routes.post("/api/itsm/requests/{id}/approvals", summary="Approve or reject a service request", path=ById,
             body=DecisionBody, response=ServiceRequest, errors=(InvalidTransition, Conflict))
async def decide_service_request(request: web.Request, path: ById, body: DecisionBody) -> pb.ServiceRequest:
    return (await call(upstreams(request).itsm.DecideRequest(to_proto(pb.DecideRequestRequest, body,
                                                                      id=path.id)))).request


# -- blackouts --------------------------------------------------------------------------------------------------


@routes.get("/api/itsm/blackouts", summary="List blackout windows", query=BlackoutQuery, response=Page[Blackout])
async def list_blackouts(request: web.Request, query: BlackoutQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).itsm.ListBlackouts(to_proto(pb.ListBlackoutsRequest, query)))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/itsm/blackouts", summary="Add a blackout window", role="admin", body=NewBlackout,
             response=Blackout, status=201)
async def create_blackout(request: web.Request, body: NewBlackout) -> pb.Blackout:
    return (await call(upstreams(request).itsm.CreateBlackout(to_proto(pb.CreateBlackoutRequest, body)))).blackout


@routes.get("/api/itsm/blackouts/{id}", summary="Get a blackout window", path=ById, response=Blackout)
async def get_blackout(request: web.Request, path: ById) -> pb.Blackout:
    return (await call(upstreams(request).itsm.GetBlackout(pb.GetBlackoutRequest(id=path.id)))).blackout


@routes.patch("/api/itsm/blackouts/{id}", summary="Edit a blackout window", role="admin", path=ById,
              body=BlackoutPatch, response=Blackout)
async def update_blackout(request: web.Request, path: ById, body: BlackoutPatch) -> pb.Blackout:
    msg = update_message(pb.UpdateBlackoutRequest, body, id=path.id)
    return (await call(upstreams(request).itsm.UpdateBlackout(msg))).blackout


@routes.delete("/api/itsm/blackouts/{id}", summary="Delete a blackout window", role="admin", path=ById,
               response=Deleted)
async def delete_blackout(request: web.Request, path: ById) -> dict[str, Any]:
    await call(upstreams(request).itsm.DeleteBlackout(pb.DeleteBlackoutRequest(id=path.id)))
    return {"id": path.id, "deleted": True}


