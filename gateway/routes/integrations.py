"""Integrations (`/api/integrations`): one per alert source, binding it to the tenant by a key shown once."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.clients import call
from gateway.routing import Routes
from gateway.schemas.base import ById
from gateway.schemas.common import Page, page
from gateway.schemas.integrations import (
    Integration,
    IntegrationPatch,
    IntegrationQuery,
    IntegrationSettingsBody,
    IntegrationWithKey,
    NewIntegration,
)
from gateway.state import upstreams
from vigil.common.v1 import common_pb2
from vigil.incident.v1 import alerts_pb2 as pb

routes = Routes("tenant", tags=("integrations",), scopes="integrations")


def _settings(body: IntegrationSettingsBody | None) -> tuple[pb.IntegrationSettings, list[str]]:
    given = body.model_dump(exclude_none=True) if body is not None else {}
    return pb.IntegrationSettings(**given), sorted(given)


@routes.get("/api/integrations", summary="List integrations", tool="list_integrations",
            query=IntegrationQuery, response=Page[Integration])
async def list_integrations(request: web.Request, query: IntegrationQuery) -> dict[str, Any]:
    resp = await call(upstreams(request).integrations.ListIntegrations(pb.ListIntegrationsRequest(
        type=query.type or "", page=common_pb2.PageRequest(limit=query.limit, offset=query.offset))))
    return page(resp.items, resp.page.total, query)


@routes.post("/api/integrations", summary="Create an integration; its key is in this answer only", role="admin",
             body=NewIntegration, response=IntegrationWithKey, status=201)
async def create_integration(request: web.Request, body: NewIntegration) -> pb.CreateIntegrationResponse:
    settings, given = _settings(body.settings)
    return await call(upstreams(request).integrations.CreateIntegration(pb.CreateIntegrationRequest(
        name=body.name, type=body.type, settings=settings, settings_mask=given)))


@routes.get("/api/integrations/{id}", summary="Get an integration (never its key)", tool="get_integration",
            path=ById, response=Integration)
async def get_integration(request: web.Request, path: ById) -> pb.Integration:
    return (await call(upstreams(request).integrations.GetIntegration(pb.GetIntegrationRequest(id=path.id)))
            ).integration


@routes.patch("/api/integrations/{id}", summary="Change an integration's name or settings", role="admin",
              path=ById, body=IntegrationPatch, response=Integration, if_match=True)
async def update_integration(request: web.Request, path: ById, body: IntegrationPatch,
                             expected_version: int) -> pb.Integration:
    settings, given = _settings(body.settings)
    mask = (["name"] if body.name is not None else []) + [f"settings.{name}" for name in given]
    return (await call(upstreams(request).integrations.UpdateIntegration(pb.UpdateIntegrationRequest(
        id=path.id, name=body.name or "", settings=settings, update_mask=mask,
        expected_version=expected_version)))).integration


@routes.delete("/api/integrations/{id}", summary="Delete an integration; its key stops working at once",
               role="admin", path=ById, response=Integration)
async def delete_integration(request: web.Request, path: ById) -> pb.Integration:
    return (await call(upstreams(request).integrations.DeleteIntegration(pb.DeleteIntegrationRequest(id=path.id)))
            ).integration


@routes.post("/api/integrations/{id}/rotate-key", summary="A new key (in this answer only); the old one stops "
             "working at once", role="admin", path=ById, response=IntegrationWithKey)
async def rotate_integration_key(request: web.Request, path: ById) -> pb.RotateIntegrationKeyResponse:
    return await call(upstreams(request).integrations.RotateIntegrationKey(pb.RotateIntegrationKeyRequest(id=path.id)))
