"""API keys: minted, listed, read and revoked by a tenant's admins on the tenant plane, and by the operator for
any tenant on the control plane (gateway/api_keys.py says what a key is and how it is checked)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api_keys import ApiKey as KeyRow
from gateway.routing import Routes
from gateway.schemas.api_keys import ApiKey, ByKey, ByTenantKey, MintedApiKey, NewApiKey
from gateway.schemas.common import Page, whole
from gateway.schemas.identity import ByTenant
from gateway.state import Gateway, gw, limits_of, principal
from vigil.runtime.errors import Forbidden, QuotaExceeded

routes = Routes("tenant", tags=("api-keys",), scopes="api_keys")
control_routes = Routes("control", tags=("api-keys",), scopes="tenants")


async def _mint(g: Gateway, tenant_id: str, body: NewApiKey, creator: str, kind: str,
                creator_role: str) -> dict[str, Any]:
    await g.identity.get_tenant(tenant_id)
    key, token = await g.api_keys.mint(
        tenant_id, name=body.name, scopes=body.scopes, role=body.role, allowed_cidrs=body.allowed_cidrs,
        expires_at=body.expires_at, created_by=creator, created_by_kind=kind, creator_role=creator_role,
        max_keys=(await limits_of(g, tenant_id)).quotas["api_keys"])
    return {**_fields(key), "token": token}


def _fields(key: KeyRow) -> dict[str, Any]:
    return {name: getattr(key, name) for name in ApiKey.model_fields}


@routes.post("/api/api-keys", summary="Mint an API key (its token is in this answer only)", role="admin",
             body=NewApiKey, response=MintedApiKey, status=201, errors=(QuotaExceeded,))
async def create_api_key(request: web.Request, body: NewApiKey) -> dict[str, Any]:
    """Needs a signed-in admin: an API key cannot mint keys, so a leaked one cannot make itself permanent."""
    who = principal(request)
    if who.kind != "user":
        raise Forbidden("API keys are minted by a signed-in admin, not by another API key")
    return await _mint(gw(request), who.tenant_id, body, who.actor, "user", who.role)


@routes.get("/api/api-keys", summary="The tenant's API keys, newest first (revoked and expired ones too)",
            role="admin", response=Page[ApiKey])
async def list_api_keys(request: web.Request) -> dict[str, Any]:
    return whole(await gw(request).api_keys.list(principal(request).tenant_id))


@routes.get("/api/api-keys/{id}", summary="An API key", role="admin", path=ByKey, response=ApiKey)
async def get_api_key(request: web.Request, path: ByKey) -> KeyRow:
    return await gw(request).api_keys.get(principal(request).tenant_id, path.id)


@routes.post("/api/api-keys/{id}/revoke", summary="Revoke an API key: refused from the next request on",
             role="admin", path=ByKey, response=ApiKey)
async def revoke_api_key(request: web.Request, path: ByKey) -> KeyRow:
    who = principal(request)
    return await gw(request).api_keys.revoke(who.tenant_id, path.id, who.actor)


@control_routes.post("/api/tenants/{tenant_id}/api-keys", summary="Mint a service API key for a tenant",
                     path=ByTenant, body=NewApiKey, response=MintedApiKey, status=201, errors=(QuotaExceeded,))
async def create_tenant_api_key(request: web.Request, path: ByTenant, body: NewApiKey) -> dict[str, Any]:
    return await _mint(gw(request), path.tenant_id, body, principal(request).actor, "operator", "admin")


@control_routes.get("/api/tenants/{tenant_id}/api-keys", summary="A tenant's API keys", path=ByTenant,
                    response=Page[ApiKey])
async def list_tenant_api_keys(request: web.Request, path: ByTenant) -> dict[str, Any]:
    g = gw(request)
    await g.identity.get_tenant(path.tenant_id)
    return whole(await g.api_keys.list(path.tenant_id))


@control_routes.get("/api/tenants/{tenant_id}/api-keys/{key_id}", summary="One of a tenant's API keys",
                    path=ByTenantKey, response=ApiKey)
async def get_tenant_api_key(request: web.Request, path: ByTenantKey) -> KeyRow:
    return await gw(request).api_keys.get(path.tenant_id, path.key_id)


@control_routes.post("/api/tenants/{tenant_id}/api-keys/{key_id}/revoke", summary="Revoke one of a tenant's "
                     "API keys", path=ByTenantKey, response=ApiKey)
async def revoke_tenant_api_key(request: web.Request, path: ByTenantKey) -> KeyRow:
    return await gw(request).api_keys.revoke(path.tenant_id, path.key_id, principal(request).actor)
