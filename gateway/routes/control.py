"""The control plane: operator sign-in, tenants (create, list, get, update, suspend, activate) and their users."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from gateway import auth
from gateway.identity import Tenant as TenantRow
from gateway.identity import User as UserRow
from gateway.routing import Routes
from gateway.schemas.common import Page, page, whole
from gateway.schemas.identity import (
    ByTenant,
    ByTenantUser,
    NewTenant,
    NewUser,
    OperatorLogin,
    OperatorToken,
    Tenant,
    TenantQuery,
    TenantUpdate,
    User,
    UserUpdate,
)
from gateway.state import gw
from vigil.runtime.errors import Conflict, Unauthenticated

routes = Routes("control", tags=("tenants",), scopes="tenants")


@routes.post("/api/auth/token", summary="Operator sign-in", auth="public", tags=("auth",), body=OperatorLogin,
             response=OperatorToken, errors=(Unauthenticated,))
async def operator_sign_in(request: web.Request, body: OperatorLogin) -> dict[str, Any]:
    g = gw(request)
    expected = g.settings.operator_password.get_secret_value()
    if not expected:
        raise Unauthenticated("operator sign-in is disabled: VIGIL_OPERATOR_PASSWORD is not set")
    if not (hmac.compare_digest(body.email.lower(), g.settings.operator_email.lower())
            and hmac.compare_digest(body.password.encode(), expected.encode())):
        raise Unauthenticated("invalid email or password")
    operator = auth.Principal(actor=g.settings.operator_email, role="operator", kind="operator")
    return {
        "token": g.control_tokens.issue(operator, auth.CONTROL_AUDIENCE),
        "token_type": "Bearer",
        "expires_in": g.settings.access_token_ttl_seconds,
        "user": {"email": operator.actor, "role": operator.role},
    }


@routes.post("/api/tenants", summary="Create a tenant", body=NewTenant, response=Tenant, status=201,
             errors=(Conflict,))
async def create_tenant(request: web.Request, body: NewTenant) -> TenantRow:
    return await gw(request).identity.create_tenant(body.name, body.id, body.plan)


@routes.get("/api/tenants", summary="List tenants", query=TenantQuery, response=Page[Tenant])
async def list_tenants(request: web.Request, query: TenantQuery) -> dict[str, Any]:
    items, total = await gw(request).identity.list_tenants(query.limit, query.offset, query.status or None)
    return page(items, total, query)


@routes.get("/api/tenants/{tenant_id}", summary="Get a tenant", path=ByTenant, response=Tenant)
async def get_tenant(request: web.Request, path: ByTenant) -> TenantRow:
    return await gw(request).identity.get_tenant(path.tenant_id)


@routes.patch("/api/tenants/{tenant_id}", summary="Change a tenant's name, plan or status", path=ByTenant,
              body=TenantUpdate, response=Tenant)
async def update_tenant(request: web.Request, path: ByTenant, body: TenantUpdate) -> TenantRow:
    return await gw(request).identity.update_tenant(path.tenant_id, name=body.name, plan=body.plan,
                                                    status=body.status)


@routes.post("/api/tenants/{tenant_id}/suspend", summary="Suspend a tenant: its users are refused everything",
             path=ByTenant, response=Tenant)
async def suspend_tenant(request: web.Request, path: ByTenant) -> TenantRow:
    return await gw(request).identity.update_tenant(path.tenant_id, status="suspended")


@routes.post("/api/tenants/{tenant_id}/activate", summary="Activate a suspended tenant", path=ByTenant,
             response=Tenant)
async def activate_tenant(request: web.Request, path: ByTenant) -> TenantRow:
    return await gw(request).identity.update_tenant(path.tenant_id, status="active")


@routes.post("/api/tenants/{tenant_id}/users", summary="Add a user to a tenant", path=ByTenant, body=NewUser,
             response=User, status=201, errors=(Conflict,))
async def create_user(request: web.Request, path: ByTenant, body: NewUser) -> UserRow:
    return await gw(request).identity.create_user(path.tenant_id, body.email, body.password, body.role)


@routes.get("/api/tenants/{tenant_id}/users", summary="A tenant's users", path=ByTenant, response=Page[User])
async def list_users(request: web.Request, path: ByTenant) -> dict[str, Any]:
    return whole(await gw(request).identity.list_users(path.tenant_id))


@routes.patch("/api/tenants/{tenant_id}/users/{user_id}", summary="Change a user's role, password or access",
              path=ByTenantUser, body=UserUpdate, response=User)
async def update_user(request: web.Request, path: ByTenantUser, body: UserUpdate) -> UserRow:
    return await gw(request).identity.update_user(path.tenant_id, path.user_id, role=body.role,
                                                  disabled=body.disabled, password=body.password)
