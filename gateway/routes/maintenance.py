"""Maintenance windows (`/api/maintenance-windows`): firing alerts received inside a matching window are stored as
`suppressed` and open no incident (managed with the incidents' scopes, by responders)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.base import ById
from gateway.schemas.common import Page, page
from gateway.schemas.convert import to_proto
from gateway.schemas.maintenance import (
    MaintenanceWindow,
    MaintenanceWindowPatch,
    MaintenanceWindowQuery,
    NewMaintenanceWindow,
)
from gateway.state import upstreams
from gateway.versioning import sent_fields
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2 as pb

routes = Routes("tenant", tags=("maintenance",), scopes="incidents")


@routes.get("/api/maintenance-windows", summary="List maintenance windows", query=MaintenanceWindowQuery,
            response=Page[MaintenanceWindow])
async def list_maintenance_windows(request: web.Request, query: MaintenanceWindowQuery) -> dict[str, Any]:
    msg = to_proto(pb.ListMaintenanceWindowsRequest, query, only=("active_at",),
                   page=common_pb2.PageRequest(limit=query.limit, offset=query.offset))
    resp = await call(upstreams(request).maintenance.ListMaintenanceWindows(msg))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/maintenance-windows", summary="Create a maintenance window", body=NewMaintenanceWindow,
             response=MaintenanceWindow, status=201)
async def create_maintenance_window(request: web.Request, body: NewMaintenanceWindow) -> pb.MaintenanceWindow:
    return (await call(upstreams(request).maintenance.CreateMaintenanceWindow(pb.CreateMaintenanceWindowRequest(
        window=to_proto(pb.MaintenanceWindow, body))))).window


@routes.get("/api/maintenance-windows/{id}", summary="Get a maintenance window", path=ById,
            response=MaintenanceWindow)
async def get_maintenance_window(request: web.Request, path: ById) -> pb.MaintenanceWindow:
    return (await call(upstreams(request).maintenance.GetMaintenanceWindow(
        pb.GetMaintenanceWindowRequest(id=path.id)))).window


@routes.patch("/api/maintenance-windows/{id}", summary="Change a maintenance window", path=ById,
              body=MaintenanceWindowPatch, response=MaintenanceWindow, if_match=True)
async def update_maintenance_window(request: web.Request, path: ById, body: MaintenanceWindowPatch,
                                    expected_version: int) -> pb.MaintenanceWindow:
    sent = sent_fields(body)
    return (await call(upstreams(request).maintenance.UpdateMaintenanceWindow(pb.UpdateMaintenanceWindowRequest(
        window=to_proto(pb.MaintenanceWindow, body, only=sent, id=path.id), update_mask=sorted(sent),
        expected_version=expected_version)))).window


@routes.delete("/api/maintenance-windows/{id}", summary="Delete a maintenance window", path=ById,
               response=MaintenanceWindow)
async def delete_maintenance_window(request: web.Request, path: ById) -> pb.MaintenanceWindow:
    return (await call(upstreams(request).maintenance.DeleteMaintenanceWindow(
        pb.DeleteMaintenanceWindowRequest(id=path.id)))).window
