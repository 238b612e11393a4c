"""The control plane: operator sign-in, tenants (create, list, get, update, suspend, activate), their users, their
limits (the plan's rate limits and quotas with the operator's overrides) and their usage."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from gateway import auth
from gateway.counters import day_start
from gateway.identity import Tenant as TenantRow
from gateway.identity import User as UserRow
from gateway.limits import QUOTAS
from gateway.quotas import month_start
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
from gateway.schemas.limits import LimitsUpdate, TenantLimits, Usage
from gateway.state import PRINCIPAL_KEY, Gateway, gw, limits_of
from vigil.runtime.errors import Conflict, QuotaExceeded, Unauthenticated

routes = Routes("control", tags=("tenants",), scopes="tenants")


@routes.post("/api/auth/token", summary="Operator sign-in", auth="public", tags=("auth",), body=OperatorLogin,
             response=OperatorToken, errors=(Unauthenticated,))
async def operator_sign_in(request: web.Request, body: OperatorLogin) -> dict[str, Any]:
    g = gw(request)
    expected = g.settings.operator_password.get_secret_value()
    if not expected:
        raise Unauthenticated("operator sign-in is disabled: VIGIL_OPERATOR_PASSWORD is not set")
    # compare_digest takes non-ASCII text only as bytes (found by schemathesis: a 500 on a Unicode email)
    if not (hmac.compare_digest(body.email.lower().encode(), g.settings.operator_email.lower().encode())
            and hmac.compare_digest(body.password.encode(), expected.encode())):
        raise Unauthenticated("invalid email or password")
    operator = auth.Principal(actor=g.settings.operator_email, role="operator", kind="operator")
    request[PRINCIPAL_KEY] = operator  # the audit log records a sign-in as its operator's action
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


async def _max_users(g: Gateway, tenant_id: str) -> int:
    await g.identity.get_tenant(tenant_id)
    return (await limits_of(g, tenant_id)).quotas["users"]


@routes.post("/api/tenants/{tenant_id}/users", summary="Add a user to a tenant", path=ByTenant, body=NewUser,
             response=User, status=201, errors=(Conflict, QuotaExceeded))
async def create_user(request: web.Request, path: ByTenant, body: NewUser) -> UserRow:
    g = gw(request)
    return await g.identity.create_user(path.tenant_id, body.email, body.password, body.role,
                                        await _max_users(g, path.tenant_id))


@routes.get("/api/tenants/{tenant_id}/users", summary="A tenant's users", path=ByTenant, response=Page[User])
async def list_users(request: web.Request, path: ByTenant) -> dict[str, Any]:
    return whole(await gw(request).identity.list_users(path.tenant_id))


@routes.patch("/api/tenants/{tenant_id}/users/{user_id}", summary="Change a user's role, password or access",
              path=ByTenantUser, body=UserUpdate, response=User, errors=(QuotaExceeded,))
async def update_user(request: web.Request, path: ByTenantUser, body: UserUpdate) -> UserRow:
    """Enabling a disabled user takes a seat (`users` quota). The user's API keys follow their new role or
    access at once on this gateway (on others within `VIGIL_API_KEY_CACHE_SECONDS`)."""
    g = gw(request)
    user = await g.identity.update_user(path.tenant_id, path.user_id, role=body.role, disabled=body.disabled,
                                        password=body.password, max_users=await _max_users(g, path.tenant_id))
    g.api_keys.forget_tenant(path.tenant_id)
    return user


def _limits(g: Gateway, tenant: TenantRow) -> dict[str, Any]:
    limits = g.plans.of(tenant.plan, tenant.limits)
    return {"tenant_id": tenant.id, "plan": tenant.plan, "rate_limits": limits.rate, "quotas": limits.quotas,
            "overrides": tenant.limits}


@routes.get("/api/tenants/{tenant_id}/limits", summary="A tenant's rate limits and quotas in effect",
            path=ByTenant, response=TenantLimits)
async def get_tenant_limits(request: web.Request, path: ByTenant) -> dict[str, Any]:
    g = gw(request)
    return _limits(g, await g.identity.get_tenant(path.tenant_id))


@routes.patch("/api/tenants/{tenant_id}/limits", summary="Override a tenant's rate limits or quotas (null: back "
              "to the plan's)", path=ByTenant, body=LimitsUpdate, response=TenantLimits)
async def update_tenant_limits(request: web.Request, path: ByTenant, body: LimitsUpdate) -> dict[str, Any]:
    """Every gateway replica applies the new limits within `VIGIL_TENANT_CACHE_SECONDS`."""
    g = gw(request)
    rate = body.rate_limits.model_dump(exclude_unset=True) if body.rate_limits else {}
    quotas = body.quotas.model_dump(exclude_unset=True) if body.quotas else {}
    return _limits(g, await g.identity.set_limits(path.tenant_id, rate, quotas))


@routes.get("/api/tenants/{tenant_id}/usage", summary="What a tenant used of its quotas: this month's incidents, "
            "today's telemetry bytes and AI calls, users and live API keys", path=ByTenant, response=Usage)
async def get_tenant_usage(request: web.Request, path: ByTenant) -> dict[str, Any]:
    g = gw(request)
    tenant = await g.identity.get_tenant(path.tenant_id)
    used = {name: await g.quotas.used(tenant.id, name) for name in
            ("incidents_per_month", "telemetry_bytes_per_day", "ai_calls_per_day")}
    used["users"] = sum(1 for u in await g.identity.list_users(tenant.id) if not u.disabled)
    used["api_keys"] = await g.api_keys.count_live(tenant.id)
    return {"tenant_id": tenant.id, "plan": tenant.plan, "month_start": month_start().isoformat(),
            "day_start": day_start().isoformat(), "used": {q: used[q] for q in QUOTAS},
            "quotas": (await limits_of(g, tenant.id)).quotas}
