"""HTTP helpers for tests that talk to a running gateway: sign in as operator, create tenants and users,
sign in as each role."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict

OPERATOR_EMAIL = "operator@vigil.test"
OPERATOR_PASSWORD = "operator-password-for-tests"
PASSWORD = "correct-horse-battery"
ROLES = ("admin", "responder", "viewer")


@dataclass
class Response:
    status: int
    body: Any
    headers: CIMultiDict

    @property
    def data(self) -> Any:
        assert self.status < 400, f"{self.status}: {self.body}"
        return self.body["data"]


async def request(session: aiohttp.ClientSession, method: str, url: str, **kwargs) -> Response:
    async with session.request(method, url, **kwargs) as resp:
        raw = await resp.read()
        try:
            import orjson

            body = orjson.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return Response(resp.status, body, CIMultiDict(resp.headers))


@dataclass
class TenantClient:
    """A signed-in tenant-plane user: `await client.get("/api/incidents")`."""

    session: aiohttp.ClientSession
    base: str
    tenant_id: str
    token: str
    email: str
    role: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "x-tenant-id": self.tenant_id, **self.extra_headers}

    async def call(self, method: str, path: str, **kwargs) -> Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await request(self.session, method, self.base + path, headers=headers, **kwargs)

    async def get(self, path: str, **kw) -> Response:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw) -> Response:
        return await self.call("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw) -> Response:
        return await self.call("PATCH", path, json=json, **kw)

    async def delete(self, path: str, **kw) -> Response:
        return await self.call("DELETE", path, **kw)


async def operator_token(session: aiohttp.ClientSession, control_base: str) -> str:
    resp = await request(session, "POST", control_base + "/api/auth/token",
                         json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})
    return resp.data["token"]


async def create_tenant(session: aiohttp.ClientSession, control_base: str, tenant_id: str | None = None,
                        roles: tuple[str, ...] = ROLES) -> dict[str, TenantClient]:
    """Create a tenant with one user per role; return a signed-in client per role."""
    tenant_id = tenant_id or f"t-{secrets.token_hex(4)}"
    token = await operator_token(session, control_base)
    auth = {"Authorization": f"Bearer {token}"}
    made = await request(session, "POST", control_base + "/api/tenants", json={"name": tenant_id, "id": tenant_id},
                         headers=auth)
    assert made.data["id"] == tenant_id
    return {role: await add_user(session, control_base, tenant_id, role, auth) for role in roles}


async def add_user(session: aiohttp.ClientSession, control_base: str, tenant_id: str, role: str,
                   auth: dict[str, str]) -> TenantClient:
    email = f"{role}-{secrets.token_hex(3)}@{tenant_id}.test"
    made = await request(session, "POST", f"{control_base}/api/tenants/{tenant_id}/users",
                         json={"email": email, "password": PASSWORD, "role": role}, headers=auth)
    assert made.data["role"] == role
    return TenantClient(session, "", tenant_id, "", email, role)


async def sign_in(client: TenantClient, tenant_base: str) -> TenantClient:
    resp = await request(client.session, "POST", tenant_base + "/api/auth/token",
                         json={"email": client.email, "password": PASSWORD, "tenant_id": client.tenant_id})
    client.base = tenant_base
    client.token = resp.data["token"]
    return client


async def tenant(session: aiohttp.ClientSession, tenant_base: str, control_base: str,
                 tenant_id: str | None = None, roles: tuple[str, ...] = ROLES) -> dict[str, TenantClient]:
    """Create a tenant with a user per role, each signed in on the tenant plane."""
    clients = await create_tenant(session, control_base, tenant_id, roles)
    return {role: await sign_in(c, tenant_base) for role, c in clients.items()}


async def wait_for_a_fresh_minute_if_this_one_ends_soon() -> None:
    """A test of a per-minute limit must not straddle two windows (UTC minutes): near a minute's end, wait for
    the next one."""
    into = time.time() % 60
    if into > 45:
        await asyncio.sleep(60 - into + 0.5)
