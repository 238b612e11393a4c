"""API keys (gateway/api_keys.py): minted by a tenant admin on the tenant plane or by the operator for a tenant on
the control plane; the token is in the mint's answer only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import AwareTime, Body, Path, Resource, Time
from gateway.schemas.identity import TenantRole


class NewApiKey(Body):
    name: str = Field(min_length=1, max_length=200, description="what the key is for")
    scopes: list[str] = Field(min_length=1, max_length=50, description=(
        "scopes (`incidents:read`) or patterns with `*` for the family or the access (`cmdb:*`, `*:read`, `*`); "
        "a pattern gives what the key's role allows"))
    role: TenantRole = Field("responder", description="the most the key may do; never more than its creator's "
                                                      "role (and, for a tenant admin's key, their current role)")
    allowed_cidrs: list[str] = Field(default_factory=list, max_length=50, description=(
        "addresses or CIDRs the key may be used from (`203.0.113.7`, `10.0.0.0/8`); empty: anywhere"))
    expires_at: AwareTime | None = Field(None, description="when the key stops working; null: never")


class ByKey(Path):
    id: str = Field(max_length=36, description="the key's id")


class ByTenantKey(Path):
    tenant_id: str
    key_id: str = Field(max_length=36)


class ApiKey(Resource):
    id: str
    tenant_id: str
    name: str
    prefix: str = Field(description="the token's first characters, to tell keys apart")
    scopes: list[str]
    role: TenantRole
    allowed_cidrs: list[str]
    status: Literal["active", "revoked", "expired"]
    created_by: str
    created_by_kind: Literal["user", "operator"]
    created_at: Time
    expires_at: Time | None
    revoked_at: Time | None
    revoked_by: str | None
    last_used_at: Time | None = Field(description="written in batches: up to a few seconds late")
    last_used_ip: str | None


class MintedApiKey(ApiKey):
    token: str = Field(description="`vgl_…`: shown this once, kept by Vigil only as a SHA-256 hash. Send it as "
                                   "`X-Api-Key` or `Authorization: Bearer`")
