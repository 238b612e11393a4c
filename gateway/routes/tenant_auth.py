"""Tenant-plane sign-in: `POST /api/auth/token` and `POST /api/auth/refresh`."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from gateway import auth, envelope
from gateway.app import PRINCIPAL_KEY, gw
from gateway.identity import User
from gateway.validation import Body, body
from vigil.runtime.errors import Forbidden, Unauthenticated


class TokenRequest(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)
    tenant_id: str | None = Field(default=None, max_length=64)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=10, max_length=200)


async def _tokens(request: web.Request, user: User) -> web.Response:
    g = gw(request)
    if await g.identity.tenant_status(user.tenant_id) != "active":
        raise Forbidden(f"tenant {user.tenant_id} is suspended")
    principal = auth.Principal(email=user.email, role=user.role, tenant_id=user.tenant_id)
    return envelope.ok({
        "token": g.tenant_tokens.issue(principal, auth.TENANT_AUDIENCE),
        "token_type": "Bearer",
        "expires_in": g.settings.access_token_ttl_seconds,
        "refresh_token": await g.identity.issue_refresh_token(user, g.settings.refresh_token_ttl_seconds),
        "user": {"email": user.email, "role": user.role, "tenant_id": user.tenant_id},
    })


@auth.policy("public")
async def token(request: web.Request) -> web.Response:
    req = await body(request, TokenRequest)
    tenant_id = req.tenant_id or request.headers.get("x-tenant-id") or None
    user = await gw(request).identity.authenticate(req.email, req.password, tenant_id)
    if user is None:
        raise Unauthenticated("invalid email or password")
    return await _tokens(request, user)


@auth.policy("public")
async def refresh(request: web.Request) -> web.Response:
    req = await body(request, RefreshRequest)
    user = await gw(request).identity.redeem_refresh_token(req.refresh_token)
    if user is None:
        raise Unauthenticated("invalid or expired refresh token")
    return await _tokens(request, user)


@auth.policy("tenant")
async def me(request: web.Request) -> web.Response:
    p = request[PRINCIPAL_KEY]
    return envelope.ok({"email": p.email, "role": p.role, "tenant_id": p.tenant_id})


PLANE = "tenant"
ROUTES = [
    web.post("/api/auth/token", token),
    web.post("/api/auth/refresh", refresh),
    web.get("/api/auth/me", me),
]
