"""Tenant-plane sign-in: `POST /api/auth/token`, `POST /api/auth/refresh`, and who the caller is."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import auth
from gateway.identity import User
from gateway.routing import Routes
from gateway.schemas.identity import RefreshRequest, SignedInUser, TokenPair, TokenRequest
from gateway.state import PRINCIPAL_KEY, gw, principal
from vigil.runtime.errors import Forbidden, Unauthenticated

routes = Routes("tenant", tags=("auth",))


async def _tokens(request: web.Request, user: User) -> dict[str, Any]:
    g = gw(request)
    if await g.identity.tenant_status(user.tenant_id) != "active":
        raise Forbidden(f"tenant {user.tenant_id} is suspended")
    who = auth.Principal(actor=user.email, role=user.role, tenant_id=user.tenant_id)
    request[PRINCIPAL_KEY] = who  # the audit log records a sign-in as its user's action
    return {
        "token": g.tenant_tokens.issue(who, auth.TENANT_AUDIENCE),
        "token_type": "Bearer",
        "expires_in": g.settings.access_token_ttl_seconds,
        "refresh_token": await g.identity.issue_refresh_token(user, g.settings.refresh_token_ttl_seconds),
        "user": {"email": user.email, "role": user.role, "tenant_id": user.tenant_id},
    }


@routes.post("/api/auth/token", summary="Sign in", auth="public", body=TokenRequest, response=TokenPair,
             errors=(Unauthenticated, Forbidden))
async def sign_in(request: web.Request, body: TokenRequest) -> dict[str, Any]:
    tenant_id = body.tenant_id or request.headers.get("x-tenant-id") or None
    user = await gw(request).identity.authenticate(body.email, body.password, tenant_id)
    if user is None:
        raise Unauthenticated("invalid email or password")
    return await _tokens(request, user)


@routes.post("/api/auth/refresh", summary="Trade a refresh token for a new token pair", auth="public",
             body=RefreshRequest, response=TokenPair, errors=(Unauthenticated, Forbidden))
async def refresh_token(request: web.Request, body: RefreshRequest) -> dict[str, Any]:
    user = await gw(request).identity.redeem_refresh_token(body.refresh_token)
    if user is None:
        raise Unauthenticated("invalid or expired refresh token")
    return await _tokens(request, user)


@routes.get("/api/auth/me", summary="The signed-in user", response=SignedInUser)
async def who_am_i(request: web.Request) -> dict[str, Any]:
    p = principal(request)
    return {"email": p.actor, "role": p.role, "tenant_id": p.tenant_id}
