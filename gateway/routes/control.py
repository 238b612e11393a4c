"""The control plane: operator sign-in, tenants (create, list, get, update, suspend, activate) and their users."""

from __future__ import annotations

import hmac

from aiohttp import web
from pydantic import Field

from gateway import auth, envelope
from gateway.app import gw
from gateway.validation import Body, body, paging, refuse_unknown_query
from vigil.runtime.errors import Unauthenticated


class OperatorLogin(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class NewTenant(Body):
    name: str = Field(min_length=1, max_length=200)
    id: str | None = Field(default=None, max_length=63)
    plan: str = "free"


class TenantUpdate(Body):
    name: str | None = Field(default=None, max_length=200)
    plan: str | None = None
    status: str | None = None


class NewUser(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=256)
    role: str


class UserUpdate(Body):
    role: str | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


@auth.policy("public")
async def operator_token(request: web.Request) -> web.Response:
    req = await body(request, OperatorLogin)
    g = gw(request)
    expected = g.settings.operator_password.get_secret_value()
    if not expected:
        raise Unauthenticated("operator sign-in is disabled: VIGIL_OPERATOR_PASSWORD is not set")
    if not (hmac.compare_digest(req.email.lower(), g.settings.operator_email.lower())
            and hmac.compare_digest(req.password.encode(), expected.encode())):
        raise Unauthenticated("invalid email or password")
    principal = auth.Principal(email=g.settings.operator_email, role="operator")
    return envelope.ok({
        "token": g.control_tokens.issue(principal, auth.CONTROL_AUDIENCE),
        "token_type": "Bearer",
        "expires_in": g.settings.access_token_ttl_seconds,
        "user": {"email": principal.email, "role": principal.role},
    })


@auth.policy("operator")
async def create_tenant(request: web.Request) -> web.Response:
    req = await body(request, NewTenant)
    tenant = await gw(request).identity.create_tenant(req.name, req.id, req.plan)
    return envelope.ok(tenant.as_json(), status=201)


@auth.policy("operator")
async def list_tenants(request: web.Request) -> web.Response:
    refuse_unknown_query(request, {"limit", "offset", "status"})
    limit, offset = paging(request)
    items, total = await gw(request).identity.list_tenants(limit, offset, request.query.get("status") or None)
    return envelope.page([t.as_json() for t in items], total, limit, offset)


@auth.policy("operator")
async def get_tenant(request: web.Request) -> web.Response:
    return envelope.ok((await gw(request).identity.get_tenant(request.match_info["tenant_id"])).as_json())


@auth.policy("operator")
async def update_tenant(request: web.Request) -> web.Response:
    req = await body(request, TenantUpdate)
    tenant = await gw(request).identity.update_tenant(request.match_info["tenant_id"], name=req.name,
                                                      plan=req.plan, status=req.status)
    return envelope.ok(tenant.as_json())


@auth.policy("operator")
async def suspend_tenant(request: web.Request) -> web.Response:
    tenant = await gw(request).identity.update_tenant(request.match_info["tenant_id"], status="suspended")
    return envelope.ok(tenant.as_json())


@auth.policy("operator")
async def activate_tenant(request: web.Request) -> web.Response:
    tenant = await gw(request).identity.update_tenant(request.match_info["tenant_id"], status="active")
    return envelope.ok(tenant.as_json())


@auth.policy("operator")
async def create_user(request: web.Request) -> web.Response:
    req = await body(request, NewUser)
    user = await gw(request).identity.create_user(request.match_info["tenant_id"], req.email, req.password, req.role)
    return envelope.ok(user.as_json(), status=201)


@auth.policy("operator")
async def list_users(request: web.Request) -> web.Response:
    users = await gw(request).identity.list_users(request.match_info["tenant_id"])
    return envelope.page([u.as_json() for u in users], len(users), len(users), 0)


@auth.policy("operator")
async def update_user(request: web.Request) -> web.Response:
    req = await body(request, UserUpdate)
    user = await gw(request).identity.update_user(request.match_info["tenant_id"], request.match_info["user_id"],
                                                  role=req.role, disabled=req.disabled, password=req.password)
    return envelope.ok(user.as_json())


PLANE = "control"
ROUTES = [
    web.post("/api/auth/token", operator_token),
    web.post("/api/tenants", create_tenant),
    web.get("/api/tenants", list_tenants),
    web.get("/api/tenants/{tenant_id}", get_tenant),
    web.patch("/api/tenants/{tenant_id}", update_tenant),
    web.post("/api/tenants/{tenant_id}/suspend", suspend_tenant),
    web.post("/api/tenants/{tenant_id}/activate", activate_tenant),
    web.post("/api/tenants/{tenant_id}/users", create_user),
    web.get("/api/tenants/{tenant_id}/users", list_users),
    web.patch("/api/tenants/{tenant_id}/users/{user_id}", update_user),
]
