"""Sign-in on both planes, tenants and their users (the gateway's own store: gateway/identity.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import Body, Paging, Path, Resource, Time

TenantRole = Literal["viewer", "responder", "admin"]


class TokenRequest(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)
    tenant_id: str | None = Field(default=None, max_length=64, description="or the x-tenant-id header; needed "
                                                                           "when the email is in several tenants")


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=10, max_length=200)


class SignedInUser(Resource):
    email: str
    role: TenantRole
    tenant_id: str


class TokenPair(Resource):
    token: str = Field(description="the access token (JWT): `Authorization: Bearer <token>`")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds")
    refresh_token: str = Field(description="single use: POST /api/auth/refresh returns a new pair")
    user: SignedInUser


class OperatorLogin(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class Operator(Resource):
    email: str
    role: Literal["operator"]


class OperatorToken(Resource):
    token: str
    token_type: Literal["Bearer"]
    expires_in: int
    user: Operator


class NewTenant(Body):
    name: str = Field(min_length=1, max_length=200)
    id: str | None = Field(default=None, max_length=63, description="2-63 lowercase letters, digits or '-'; "
                                                                    "generated when absent")
    plan: str = Field("free", description="free, pro or enterprise")


class TenantUpdate(Body):
    name: str | None = Field(default=None, max_length=200)
    plan: str | None = None
    status: str | None = Field(None, description="active or suspended")


class TenantQuery(Paging):
    status: Literal["active", "suspended"] | None = None


class ByTenant(Path):
    tenant_id: str


class ByTenantUser(Path):
    tenant_id: str
    user_id: str


class Tenant(Resource):
    id: str
    name: str
    status: Literal["active", "suspended"]
    plan: Literal["free", "pro", "enterprise"]
    created_at: Time
    updated_at: Time


class NewUser(Body):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(description="viewer, responder or admin")


class UserUpdate(Body):
    role: str | None = None
    disabled: bool | None = Field(None, description=(
        "a disabled user cannot sign in or refresh (their refresh tokens are revoked at once) and their API keys stop; "
        "an access token already issued works until it expires (VIGIL_ACCESS_TOKEN_TTL_SECONDS)"))
    password: str | None = Field(default=None, min_length=8, max_length=256)


class User(Resource):
    id: str
    tenant_id: str
    email: str
    role: TenantRole
    disabled: bool
    created_at: Time
